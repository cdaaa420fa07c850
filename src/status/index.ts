export { Reason, setCondition, readyCondition, isReady, type ReasonName } from "./conditions.js";
export { Metrics, Gauge, Histogram, CONTENT_TYPE, type Labels, type ResourceInfo } from "./metrics.js";
export {
  formatTable,
  unitRows,
  clusterRows,
  unitSettled,
  age,
  type UnitStatusRow,
  type ClusterStatusRow,
} from "./table.js";
export { waveRows, rolloutSettled, formatRollout, type WaveRow } from "./rollouts.js";
export {
  readFleetStatus,
  listFleetObjects,
  fleetStatusOf,
  formatStatus,
  CLUSTER_API_VERSION,
  FLEET_COLLECTIONS,
  type FleetStatus,
  type FleetObjects,
} from "./fleet-status.js";
export { watchFleetStatus, type WatchOptions, type OpenWatch, type CollectionWatch } from "./watch-fleet.js";
