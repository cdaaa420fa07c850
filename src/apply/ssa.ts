import { ANNOTATION_RECONCILE, FIELD_MANAGER, LABEL_OWNER_NAME, LABEL_OWNER_NAMESPACE } from "../core/flux.js";
import { InvalidInputError } from "../core/errors.js";
import { deepClone, groupOf, objectRef, type KubeObject } from "../core/object.js";
import { ClusterClient, type ApiResource } from "../core/kube/index.js";
import { setNativeDefaults } from "./normalize.js";

/** A unit's name and namespace: the owner labels its objects carry. */
export interface UnitRef {
  name: string;
  namespace: string;
}

/** The labels that mark an object as the unit's (`kustomize.toolkit.fluxcd.io/name` and `/namespace`). */
export function ownerLabels(unit: UnitRef): Record<string, string> {
  return { [LABEL_OWNER_NAME]: unit.name, [LABEL_OWNER_NAMESPACE]: unit.namespace };
}

/** Copies of a unit's objects as they are applied: owner labels added, native SSA defaults set. */
export function desiredObjects(unit: UnitRef, objects: readonly KubeObject[]): KubeObject[] {
  const labels = ownerLabels(unit);
  return objects.map((o) => {
    const copy = deepClone(o);
    copy.metadata = { ...copy.metadata, labels: { ...copy.metadata.labels, ...labels } };
    return setNativeDefaults(copy);
  });
}

/** Whether an object opts out through `key: disabled`, as a label or an annotation. */
export function isDisabled(o: KubeObject | undefined, key: string): boolean {
  return o?.metadata.annotations?.[key] === "disabled" || o?.metadata.labels?.[key] === "disabled";
}

/** Whether the object, live or desired, opts out of reconciliation. */
export function reconcileDisabled(desired: KubeObject, live: KubeObject | undefined): boolean {
  return isDisabled(live, ANNOTATION_RECONCILE) || isDisabled(desired, ANNOTATION_RECONCILE);
}

/** An object's kind as the cluster serves it; a kind it does not serve names the object and its apiVersion. */
export async function resourceOrFail(client: ClusterClient, obj: KubeObject): Promise<ApiResource> {
  const resource = await client.resourceOf(obj);
  if (!resource)
    throw new InvalidInputError(await notServed(client, obj), { object: objectRef(obj), field: "apiVersion" });
  return resource;
}

/**
 * Why a kind is not served: no version of it at all (a CRD not installed), or only other versions
 * — a built-in API the manifest uses in a version newer than the cluster's Kubernetes (policy/v1
 * PodDisruptionBudget on 1.20), which no CRD can add.
 */
async function notServed(client: ClusterClient, obj: KubeObject): Promise<string> {
  const group = groupOf(obj.apiVersion);
  const served = [...(await client.discovery()).values()]
    .filter((r) => r.group === group && r.kind === obj.kind)
    .map((r) => (r.group ? `${r.group}/${r.version}` : r.version));
  if (served.length === 0 && group.endsWith(".toolkit.fluxcd.io")) {
    // HelmRelease, HelmRepository, OCIRepository, ImagePolicy…: Flotilla itself reconciles only GitRepository and Kustomization, on the management cluster.
    return `the cluster does not serve ${obj.apiVersion} ${obj.kind}: Flotilla reconciles only GitRepository and Kustomization objects on the management cluster; a ${obj.kind} needs Flux's controllers (and CRDs) installed on this cluster`;
  }
  if (served.length === 0) return `the cluster does not serve ${obj.apiVersion} ${obj.kind} (is its CRD installed?)`;
  const version = await client
    .request<{ gitVersion?: string }>("GET", "/version", undefined, { allow: [401, 403, 404] })
    .then((r) => r.body.gitVersion)
    .catch(() => undefined);
  return `the cluster${version ? ` (Kubernetes ${version})` : ""} does not serve ${obj.apiVersion} ${obj.kind}, only ${served.sort().join(", ")}: the manifest needs another Kubernetes version`;
}

/** Sets or clears an object's namespace by its kind's scope (namespaced kinds default to `default`). */
export function scopeNamespace(obj: KubeObject, resource: ApiResource): void {
  if (resource.namespaced && !obj.metadata.namespace) obj.metadata.namespace = "default";
  if (!resource.namespaced) delete obj.metadata.namespace;
}

/** One server-side apply (field manager `flotilla`, forced ownership), or its dry run. */
export async function serverSideApply(
  client: ClusterClient,
  path: string,
  obj: KubeObject,
  dryRun: boolean,
): Promise<KubeObject> {
  const query = `?fieldManager=${FIELD_MANAGER}&force=true${dryRun ? "&dryRun=All" : ""}`;
  const res = await client.request<KubeObject>("PATCH", `${path}${query}`, obj, {
    contentType: "application/apply-patch+yaml",
    count: dryRun ? "dryRunApply" : "apply",
  });
  return res.body;
}

/**
 * The live object at `path`, or a 404; with `cached`, as the apiserver's watch cache holds it
 * (`resourceVersion=0`: served without a read from etcd, possibly milliseconds old). A 404 that is not about the object itself ("the server
 * could not find the requested resource": no `details.name`) means the apiserver does not serve
 * the kind yet although discovery lists it — a CRD just created, or an apiserver that has just
 * restarted and not yet loaded its CRDs — so it is asked again with backoff for up to `forMs`.
 */
export async function getLive(
  client: ClusterClient,
  path: string,
  opts: { cached?: boolean; forMs?: number } = {},
): Promise<{ status: number; body: KubeObject }> {
  const started = Date.now();
  const forMs = opts.forMs ?? 10_000;
  for (let attempt = 0; ; attempt++) {
    const res = await client.request<KubeObject>("GET", opts.cached ? `${path}?resourceVersion=0` : path, undefined, {
      allow: [404],
      count: "get",
    });
    const details = (res.body as { details?: { name?: string } } | undefined)?.details;
    if (res.status !== 404 || details?.name !== undefined || Date.now() - started > forMs) return res;
    client.retries++;
    await new Promise((r) => setTimeout(r, Math.min(1000, 100 * 2 ** attempt)));
  }
}
