import type { ChangeSetEntry } from "./change-set.js";
import type { ClusterClient } from "../core/kube/index.js";
import { objectId, objectRef, type KubeObject } from "../core/object.js";
import { scopeNamespace } from "./ssa.js";

/** Set on a Namespace Flotilla created because a unit's objects live there and nothing in git creates it. */
export const ANNOTATION_CREATED_FOR = "flotilla.dev/created-for";

/**
 * `createNamespaces` (Argo CD's `CreateNamespace=true`): before a stage is applied, every namespace
 * its namespaced objects live in that neither exists nor is one of the unit's own Namespaces is
 * created. Such a namespace is not in the unit's inventory, so it is never pruned — deleting a
 * namespace would delete whatever else lives there. `checked` carries the namespaces already seen
 * across the stages of one apply.
 */
export async function createMissingNamespaces(
  client: ClusterClient,
  unit: { name: string; namespace: string },
  stage: readonly KubeObject[],
  ownNamespaces: ReadonlySet<string>,
  checked: Set<string>,
): Promise<ChangeSetEntry[]> {
  const wanted = new Set<string>();
  for (const obj of stage) {
    const resource = await client.resourceOf(obj).catch(() => undefined);
    if (!resource) continue; // the stage's own dry run names the unknown kind
    scopeNamespace(obj, resource);
    const ns = obj.metadata.namespace;
    if (ns && !ownNamespaces.has(ns) && !checked.has(ns)) wanted.add(ns);
  }
  const created: ChangeSetEntry[] = [];
  for (const name of [...wanted].sort()) {
    checked.add(name);
    const path = `/api/v1/namespaces/${encodeURIComponent(name)}`;
    // 403: the unit's identity (a tenant's service account) may not read Namespaces, so cannot tell
    // whether it exists; the stage's own dry run then says what is missing or forbidden.
    const live = await client.request("GET", `${path}?resourceVersion=0`, undefined, {
      allow: [403, 404],
      count: "get",
    });
    if (live.status !== 404) continue;
    const namespace: KubeObject = {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name, annotations: { [ANNOTATION_CREATED_FOR]: `${unit.namespace}/${unit.name}` } },
    };
    const res = await client.request("POST", "/api/v1/namespaces", namespace, { allow: [409], count: "create" });
    if (res.status !== 409)
      created.push({
        id: objectId(namespace),
        ref: objectRef(namespace),
        action: "created",
        note: "missing namespace; not in git, never pruned",
      });
  }
  return created;
}
