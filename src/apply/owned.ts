import { LABEL_OWNER_NAME, LABEL_OWNER_NAMESPACE, type InventoryEntry } from "../core/flux.js";
import type { KubeObject } from "../core/object.js";
import { ClusterClient, type ApiResource } from "../core/kube/index.js";
import { inParallel } from "./parallel.js";

/** Groups that serve other groups' objects again under an old name (Ingresses, Events). */
const ALIAS_GROUPS = new Set(["extensions", "events.k8s.io"]);

/**
 * The inventories of the units that applied objects to a cluster, read from the cluster alone:
 * every object carrying the owner labels (`kustomize.toolkit.fluxcd.io/name` and `/namespace`),
 * grouped by `namespace/name` of its unit, in Flux's inventory format. One list request per
 * served kind (its group's preferred version); an object served by two groups counts once, under
 * its own group rather than an alias.
 */
export async function ownedInventories(client: ClusterClient): Promise<Map<string, InventoryEntry[]>> {
  const resources = [...(await client.discovery()).values()]
    .filter((r) => r.preferred !== false && (r.verbs ?? ["list"]).includes("list"))
    .sort(
      (a, b) =>
        Number(ALIAS_GROUPS.has(a.group)) - Number(ALIAS_GROUPS.has(b.group)) ||
        a.group.localeCompare(b.group) ||
        a.kind.localeCompare(b.kind),
    );
  const found: Array<{ r: ApiResource; items: KubeObject[] }> = [];
  await inParallel(resources, 8, async (r) => {
    const path = `${ClusterClient.pathOf({ ...r, namespaced: false }, undefined)}?labelSelector=${encodeURIComponent(LABEL_OWNER_NAME)}`;
    const res = await client.request<{ items?: KubeObject[] }>("GET", path, undefined, {
      allow: [403, 404, 405, 503],
      count: "list",
    });
    if (res.status === 200 && res.body.items?.length) found.push({ r, items: res.body.items });
  });
  found.sort((a, b) => resources.indexOf(a.r) - resources.indexOf(b.r));
  const seen = new Set<string>();
  const byUnit = new Map<string, InventoryEntry[]>();
  for (const { r, items } of found) {
    for (const o of items) {
      const uid = String(o.metadata.uid ?? `${r.group}/${r.kind}/${o.metadata.namespace}/${o.metadata.name}`);
      if (seen.has(uid)) continue;
      seen.add(uid);
      const labels = o.metadata.labels ?? {};
      const unit = `${labels[LABEL_OWNER_NAMESPACE] ?? ""}/${labels[LABEL_OWNER_NAME]}`;
      let entries = byUnit.get(unit);
      if (!entries) byUnit.set(unit, (entries = []));
      entries.push({
        id: `${r.namespaced ? (o.metadata.namespace ?? "") : ""}_${o.metadata.name}_${r.group}_${r.kind}`,
        v: r.version,
      });
    }
  }
  for (const entries of byUnit.values()) entries.sort((a, b) => a.id.localeCompare(b.id));
  return byUnit;
}
