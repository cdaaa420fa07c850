export { RolloutController, type RolloutHost, type RevisionGateResult } from "./rollout-controller.js";
export { watchRollouts, patchRolloutStatus, type RolloutWatches } from "./wiring.js";
