/**
 * The Leases of the controller's replicas (coordination.k8s.io/v1, src/controller/replicas), as
 * `flotilla status` reads them too: a label names their role, another the replica set (shard), and
 * an annotation the cluster a cluster Lease fences.
 */
/** `member`: a replica's membership Lease; `cluster`: the fence of one cluster. */
export const LEASE_ROLE_LABEL = "flotilla.dev/lease";
/** The replica set (shard) a Lease belongs to: replicas with another `--watch-label-selector` do not share it. */
export const LEASE_SHARD_LABEL = "flotilla.dev/shard";
/** The cluster a cluster Lease fences: a unit's lane, `<namespace>/<kubeconfig Secret>`, or `mgmt`. */
export const LEASE_CLUSTER_ANNOTATION = "flotilla.dev/cluster";

/** The lane (the cluster a unit writes to, as replicas place it) of a Kustomization: `<namespace>/<kubeconfig Secret>`, or `mgmt`. */
export function laneOfUnit(k: {
  metadata: { namespace: string };
  spec: { kubeConfig?: { secretRef: { name: string } } };
}): string {
  return k.spec.kubeConfig ? `${k.metadata.namespace}/${k.spec.kubeConfig.secretRef.name}` : "mgmt";
}
