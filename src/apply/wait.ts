import { objectRef, type KubeObject } from "../core/object.js";
import { ClusterClient, type ApiResource } from "../core/kube/index.js";
import { healthOf } from "./health.js";
import { inParallel } from "./parallel.js";

/** An object a unit waits for: `spec.healthChecks[]` (Flux's NamespacedObjectKindReference). */
export interface HealthCheckRef {
  apiVersion?: string;
  kind: string;
  name: string;
  namespace?: string;
}

/** Called while objects are not healthy yet, with one line naming them and why. */
export type OnPending = (message: string) => void | Promise<void>;

/**
 * The objects `spec.healthChecks` names, as Flux's WaitForSet takes them: an object of the unit
 * when one matches (its apiVersion and namespace as applied), otherwise the object as named,
 * wherever it lives — in another namespace, or not created yet. A reference without apiVersion
 * takes the kind's preferred served version; one without namespace, for a namespaced kind,
 * `defaultNamespace` (the unit's). A kind the cluster does not serve is still waited for (as
 * kstatus does: not found until its CRD appears).
 */
export async function healthCheckTargets(
  client: ClusterClient,
  refs: readonly HealthCheckRef[],
  applied: readonly KubeObject[],
  defaultNamespace: string,
): Promise<KubeObject[]> {
  const targets: KubeObject[] = [];
  for (const ref of refs) {
    const own = applied.find(
      (o) =>
        o.kind === ref.kind &&
        o.metadata.name === ref.name &&
        (ref.namespace === undefined || o.metadata.namespace === ref.namespace) &&
        (ref.apiVersion === undefined || o.apiVersion === ref.apiVersion),
    );
    if (own) {
      targets.push(own);
      continue;
    }
    const resource = await resourceOfRef(client, ref);
    const apiVersion =
      ref.apiVersion ??
      (resource ? (resource.group ? `${resource.group}/${resource.version}` : resource.version) : "v1");
    const namespaced = resource ? resource.namespaced : ref.namespace !== undefined;
    const namespace = namespaced ? (ref.namespace ?? defaultNamespace) : undefined;
    targets.push({ apiVersion, kind: ref.kind, metadata: { name: ref.name, ...(namespace ? { namespace } : {}) } });
  }
  return targets;
}

async function resourceOfRef(client: ClusterClient, ref: HealthCheckRef): Promise<ApiResource | undefined> {
  if (ref.apiVersion) return client.resourceOf({ apiVersion: ref.apiVersion, kind: ref.kind });
  const ofKind = [...(await client.discovery()).values()].filter((r) => r.kind === ref.kind);
  return ofKind.find((r) => r.preferred && r.group === "") ?? ofKind.find((r) => r.preferred) ?? ofKind[0];
}

/**
 * Polls objects until kstatus calls each Current (Flux's WaitForSet); a timeout names those that
 * are not and why. An object that does not exist (or whose kind is not served yet) is waited for,
 * as "not found". Objects whose `known` state (what the apiserver just returned for them) is
 * Current are not fetched again. `onPending` hears, after each round that leaves objects pending,
 * which ones and why.
 */
export async function waitHealthy(
  client: ClusterClient,
  objects: readonly KubeObject[],
  timeoutMs: number,
  known?: ReadonlyMap<KubeObject, KubeObject>,
  onPending?: OnPending,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const knownCurrent = (o: KubeObject) => {
    const state = known?.get(o);
    return state !== undefined && healthOf(state).status === "Current";
  };
  let pending = objects.filter((o) => !knownCurrent(o));
  let reported = "";
  while (pending.length > 0) {
    const waiting = await pollOnce(client, pending);
    if (waiting.size === 0) return;
    const summary = [...waiting].map(([r, m]) => `${r} (${m})`).join(", ");
    if (Date.now() > deadline) throw new Error(`timeout waiting for: ${summary}`);
    if (onPending && summary !== reported) {
      reported = summary;
      await onPending(`waiting for: ${summary}`);
    }
    pending = pending.filter((o) => waiting.has(objectRef(o)));
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** One GET per object; the ones not Current yet, by reference, with kstatus' message. A Failed object throws. */
async function pollOnce(client: ClusterClient, objects: readonly KubeObject[]): Promise<Map<string, string>> {
  const waiting = new Map<string, string>();
  await inParallel(objects, 8, async (o) => {
    const resource = await client.resourceOf(o);
    if (!resource) {
      waiting.set(objectRef(o), `the cluster does not serve ${o.apiVersion} ${o.kind}`);
      return;
    }
    const live = await client.request<KubeObject>(
      "GET",
      ClusterClient.pathOf(resource, o.metadata.namespace, o.metadata.name),
      undefined,
      {
        allow: [404],
        count: "get",
      },
    );
    const health = live.status === 404 ? { status: "InProgress" as const, message: "not found" } : healthOf(live.body);
    if (health.status === "Failed") throw new Error(`${objectRef(o)} failed: ${health.message}`);
    if (health.status !== "Current") waiting.set(objectRef(o), health.message);
  });
  return new Map([...waiting].sort(([a], [b]) => a.localeCompare(b)));
}
