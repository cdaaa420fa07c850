export { ClusterOwnership, MANAGEMENT_LANE, NotOwnerError, shardOf, type ReplicasConfig } from "./ownership.js";
export { Replicas, type ReplicaOptions, type ReplicaHooks, type ReplicaStatus } from "./replicas.js";
export { place, loads, weightOf, ringHash, type PlacementOptions, type WeightedCluster } from "./placement.js";
export {
  LeaseApi,
  leaseName,
  microTime,
  LEASE_CLUSTER_ANNOTATION,
  LEASE_ROLE_LABEL,
  LEASE_SHARD_LABEL,
  type Lease,
} from "./leases.js";
