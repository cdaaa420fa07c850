export {
  discoverSources,
  planFleet,
  cleanPath,
  FLUX_NAMESPACE,
  LABEL_ENVIRONMENT,
  LABEL_CLUSTER,
  type RenderFn,
  type Sources,
  type PlanResult,
  type PlanError,
} from "./fleet-plan.js";
export { CONFIG_FILE, parseFlotillaConfig, type FlotillaConfig } from "./flotilla-config.js";
export { readLayout, type Layout } from "./layout.js";
export { assertFleetLayout } from "./missing-layout.js";
export { planRepository, type RepositoryPlan } from "./repository.js";
