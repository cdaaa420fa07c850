import { clusterOfUnit, type Kustomization } from "../core/flux.js";
import { groupOf, objectKey, type KubeObject } from "../core/object.js";

/**
 * Objects that two or more units apply to the same cluster: each unit applies its copy in turn (the
 * last one wins, at every reconcile) and pruning by one deletes what the other still declares, as
 * with Flux. One warning per object and set of units, naming the clusters it happens on.
 */
export function overlappingObjects(
  units: readonly Kustomization[],
  renders: ReadonlyMap<string, readonly KubeObject[]>,
): string[] {
  // object id and the units' keys → the clusters
  const overlaps = new Map<string, { object: string; units: Kustomization[]; clusters: string[] }>();
  const byCluster = new Map<string, Kustomization[]>();
  for (const u of units) {
    const cluster = clusterOfUnit(u);
    byCluster.set(cluster, [...(byCluster.get(cluster) ?? []), u]);
  }
  for (const [cluster, members] of byCluster) {
    const owners = new Map<string, Kustomization[]>();
    for (const u of members) {
      for (const o of renders.get(objectKey(u)) ?? []) {
        const id = `${o.kind}${groupOf(o.apiVersion) ? `.${groupOf(o.apiVersion)}` : ""}/${o.metadata.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata.name ?? ""}`;
        const list = owners.get(id) ?? [];
        if (!list.includes(u)) owners.set(id, [...list, u]);
      }
    }
    for (const [object, list] of owners) {
      if (list.length < 2) continue;
      const key = `${object}\u0000${list.map((u) => `${u.metadata.name}\u0000${u.spec.path ?? ""}`).join("\u0000")}`;
      const entry = overlaps.get(key) ?? { object, units: list, clusters: [] };
      entry.clusters.push(cluster);
      overlaps.set(key, entry);
    }
  }
  return [...overlaps.values()].map(({ object, units: list, clusters }) => {
    const names = list.map((u) => `${u.metadata.name} (${u.spec.path ?? "."})`).join(" and ");
    return `${object} is applied by ${list.length} units of the same cluster, ${names}, on ${clusters.length === 1 ? "cluster" : "clusters"} ${clusters.join(", ")}: the last to apply wins at every reconcile, and pruning by one deletes it for the other`;
  });
}
