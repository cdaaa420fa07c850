import { deepEqual, isPlainObject, type KubeObject } from "../core/object.js";

/**
 * Whether a live object already holds everything the desired object says. A reconcile of an
 * unchanged unit must not write, and Flux's way to know is a server-side dry-run compared with the
 * live object. That costs a request per object, so Flotilla first compares fields directly: when
 * every desired field equals the live one (server defaults add fields but cannot change ours), the
 * object is unchanged and nothing is sent. Only when they differ — a real change, drift, or a value
 * the apiserver normalizes (`1000m` → `1`) — does the caller fall back to the dry-run.
 */
export function liveSatisfies(desired: unknown, live: unknown): boolean {
  if (isPlainObject(desired)) {
    if (!isPlainObject(live)) return false;
    for (const [k, v] of Object.entries(desired)) {
      if (v === null) {
        if (live[k] !== undefined && live[k] !== null) return false;
        continue;
      }
      if (!liveSatisfies(v, live[k])) return false;
    }
    return true;
  }
  if (Array.isArray(desired)) {
    if (!Array.isArray(live) || live.length !== desired.length) return false;
    return desired.every((d, i) => liveSatisfies(d, live[i]));
  }
  return deepEqual(desired, live);
}

/** Metadata the apiserver owns, ignored when comparing a dry-run result with the live object. */
const NOISE = ["resourceVersion", "generation", "managedFields", "creationTimestamp", "uid", "selfLink"];

/** The object without apiserver-owned metadata and status, for dry-run comparisons. */
export function comparable(o: KubeObject): KubeObject {
  const metadata = { ...o.metadata };
  for (const k of NOISE) delete metadata[k];
  const { status: _status, ...rest } = o;
  void _status;
  return { ...rest, metadata } as KubeObject;
}
