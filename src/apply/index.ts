export { applyUnit, waitHealthy, type ApplyRequest, type ApplyResult } from "./apply.js";
export { ClusterClient, ApiError, type ApiResource, type ClientOptions } from "../core/kube/index.js";
export { ApplyFailure, HealthCheckFailure } from "./errors.js";
export { healthOf, type Health } from "./health.js";
export { inventoryOf, parseInventoryId } from "./inventory.js";
export type { ChangeSetEntry, Action } from "./change-set.js";
export { diffUnit, type DiffRequest, type ObjectDiff, type UnitDiff } from "./diff.js";
export { desiredObjects, ownerLabels, type UnitRef } from "./ssa.js";
export { ownedInventories } from "./owned.js";
