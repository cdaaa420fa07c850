/** Plain Kubernetes objects as render, plan and apply pass them around. */
export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  resourceVersion?: string;
  [key: string]: unknown;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** `apps/v1` → `apps`; `v1` → `` (the core group). */
export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? "" : apiVersion.slice(0, slash);
}

/** `apps/v1` → `v1`. */
export function versionOf(apiVersion: string): string {
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
}

/** Flux's inventory id: `<namespace>_<name>_<group>_<kind>`. */
export function objectId(obj: Pick<KubeObject, "apiVersion" | "kind" | "metadata">): string {
  return `${obj.metadata.namespace ?? ""}_${obj.metadata.name ?? ""}_${groupOf(obj.apiVersion)}_${obj.kind}`;
}

/** How errors and logs name an object: `Kind/namespace/name` or `Kind/name`. */
export function objectRef(obj: Pick<KubeObject, "kind" | "metadata">): string {
  const { namespace, name } = obj.metadata ?? {};
  return namespace ? `${obj.kind}/${namespace}/${name ?? ""}` : `${obj.kind}/${name ?? ""}`;
}

/** An object's `namespace/name` (empty namespace for a cluster-scoped one): how units, sources and watches are keyed. */
export function objectKey(obj: { metadata: { namespace?: string; name?: string } }): string {
  return `${obj.metadata.namespace ?? ""}/${obj.metadata.name ?? ""}`;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A deep copy of JSON-shaped data (faster than structuredClone for small trees). */
export function deepClone<T>(value: T): T {
  if (Array.isArray(value)) return value.map(deepClone) as T;
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) out[key] = deepClone(value[key]);
    return out as T;
  }
  return value;
}

/** Structural equality of JSON-shaped data; key order does not matter. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    for (const k of ka) if (!(k in b) || !deepEqual(a[k], b[k])) return false;
    return true;
  }
  return false;
}
