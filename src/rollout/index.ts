/**
 * Prod promotion for a fleet: waves of clusters and maintenance windows (issue 19).
 *
 * Everything in this folder is pure: it takes what the controller observed and the time from the
 * controller's injectable clock, and returns decisions. src/controller/rollout/ is the edge.
 *
 * How a cluster is pinned to a revision
 * - An environment's rollout (flotilla.yaml `rollouts.<env>`, or a `Rollout` object of group
 *   flotilla.dev for Flux-mode repositories) watches one GitRepository: the source its clusters'
 *   units follow (`release` for prod). The source's newest revision becomes the rollout's target
 *   unless it was rejected.
 * - Each pass (stepRollout) recomputes, for every cluster, the revision its units may apply: the
 *   target for clusters the rollout has reached, otherwise the revision the cluster's units last
 *   applied (keptRevision), falling back to the last revision that went through every wave
 *   (`stable`) for a cluster that has applied nothing yet. Drift correction and new clusters
 *   therefore keep working at the kept revision.
 * - Nothing per cluster is stored: which clusters a wave has started is read back from the units'
 *   `lastAttemptedRevision`/`lastAppliedRevision`, and the clusters a wave starts next are chosen in
 *   name order, so a restarted controller picks the same ones. The Rollout's status holds only the
 *   target, the stable and rejected revisions, the active wave and when its soak began, and
 *   `waves[]` with counts (bounded at any fleet size).
 * - The controller keeps the artifact of every revision a pin names (not only the newest), and a
 *   unit renders the artifact of its cluster's pin (the controller's RevisionGate). A pinned revision
 *   the controller no longer holds (after a restart) is fetched again from the git cache by commit.
 *
 * Windows (windows.ts) are evaluated per cluster on the same clock: outside its windows a cluster
 * starts no new revision and prunes nothing; drift correction at its current revision continues
 * unless a window's `gates` lists `drift`. A cluster waiting for its window takes no slot of its
 * wave and does not hold the next wave back, but a wave whose every cluster waits has proved
 * nothing and waits too.
 */
export { parseCron, type CronSchedule } from "./cron.js";
export { parseRolloutSpec, parseWindows, parseSelector, type RolloutSpec, type WaveSpec } from "./config.js";
export { matchesSelector, type ClusterSelector } from "./selector.js";
export {
  windowsOf,
  windowState,
  mayStart,
  type WindowSpec,
  type WindowState,
  type WindowGate,
  type BreakGlass,
} from "./windows.js";
export {
  stepRollout,
  assignWaves,
  slotsOf,
  keptRevision,
  UNMATCHED_WAVE,
  type ClusterObservation,
  type UnitObservation,
  type RolloutState,
  type RolloutControl,
  type RolloutDecision,
  type RolloutEvent,
  type WaveStatus,
  type WavePhase,
  type RolloutPhase,
} from "./waves.js";
export {
  ROLLOUT_API_VERSION,
  APPROVE_ANNOTATION,
  RETRY_ANNOTATION,
  BREAK_GLASS_ANNOTATION,
  rolloutSpecOf,
  stateOf,
  statusOf,
  controlOf,
  breakGlassOf,
  rolloutManifest,
  type RolloutObject,
  type RolloutStatus,
} from "./object.js";
export { unitGate, type UnitGateDecision } from "./gate.js";
