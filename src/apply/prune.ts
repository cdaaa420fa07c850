import { ANNOTATION_PRUNE, type InventoryEntry } from "../core/flux.js";
import { objectRef, type KubeObject } from "../core/object.js";
import type { ChangeSetEntry } from "./change-set.js";
import { ClusterClient } from "../core/kube/index.js";
import { apiVersionOf, parseInventoryId, staleEntries } from "./inventory.js";
import { isDisabled } from "./ssa.js";

/** What prune may delete: entries of `previous` that `current` no longer holds, Namespaces last. */
export function pruneCandidates(
  previous: readonly InventoryEntry[],
  current: readonly InventoryEntry[],
): InventoryEntry[] {
  const isNamespace = (e: InventoryEntry) => Number(parseInventoryId(e.id).kind === "Namespace");
  return staleEntries(previous, current).sort((a, b) => isNamespace(a) - isNamespace(b));
}

/**
 * Deletes one object that left its unit (or with `dryRun`, says it would): nothing when it is gone
 * or its kind is no longer served; skipped when it opts out (`kustomize.toolkit.fluxcd.io/prune:
 * disabled`) or its owner labels name another unit, whatever an old inventory says.
 */
export async function pruneOne(
  client: ClusterClient,
  entry: InventoryEntry,
  owner: Record<string, string>,
  dryRun = false,
): Promise<ChangeSetEntry | undefined> {
  const { namespace, name, kind } = parseInventoryId(entry.id);
  const probe: KubeObject = {
    apiVersion: apiVersionOf(entry),
    kind,
    metadata: { name, ...(namespace ? { namespace } : {}) },
  };
  const resource = await client.resourceOf(probe);
  if (!resource) return undefined;
  const path = ClusterClient.pathOf(resource, namespace || undefined, name);
  const ref = objectRef(probe);
  for (let attempt = 1; ; attempt++) {
    const live = await client.request<KubeObject>("GET", path, undefined, { allow: [404], count: "get" });
    if (live.status === 404) return undefined;
    if (isDisabled(live.body, ANNOTATION_PRUNE))
      return { id: entry.id, ref, action: "skipped", note: "prune disabled" };
    const labels = live.body.metadata.labels ?? {};
    if (Object.entries(owner).some(([k, v]) => labels[k] !== v))
      return { id: entry.id, ref, action: "skipped", note: "owned by another unit" };
    if (dryRun) return { id: entry.id, ref, action: "deleted" };
    // Only the object as read: another unit that takes it over meanwhile (an object moved between
    // units applies under its new owner's labels) changes its resourceVersion, and the delete is refused.
    const preconditions = { uid: live.body.metadata.uid, resourceVersion: live.body.metadata.resourceVersion };
    const res = await client.request(
      "DELETE",
      path,
      { propagationPolicy: "Background", preconditions },
      { allow: [404, 409], count: "delete" },
    );
    if (res.status !== 409) return { id: entry.id, ref, action: "deleted" };
    if (attempt >= 5) throw new Error(`${ref} kept changing while being pruned`);
  }
}
