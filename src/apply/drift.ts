import { fieldChanges, maskSecrets, type FieldChange } from "../core/field-diff.js";
import { FIELD_MANAGER } from "../core/flux.js";
import { deepEqual, isPlainObject, type KubeObject } from "../core/object.js";

/**
 * Whether applying `desired` again would leave `live` exactly as it is, decided without a request.
 * A reconcile of an unchanged unit must not write, and Flux's way to know is a server-side dry-run
 * compared with the live object; that costs a request per object. Server-side apply changes an
 * object in two ways only: it sets the fields the applied configuration holds, and it removes the
 * fields the manager set last time but no longer holds. So the object is provably unchanged when
 * (1) Flotilla's managedFields entry lists exactly the fields of `desired` (same apiVersion), and
 * (2) every value of `desired` equals the live one (server defaults add fields but cannot change
 * ours). Anything else — a real change, a removed field, drift, a value the apiserver normalizes
 * (`1000m` → `1`), a list shape this check does not know — answers false, and the caller falls
 * back to the dry-run.
 */
export function unchangedByApply(desired: KubeObject, live: KubeObject): boolean {
  return liveSatisfies(desired, live) && sameFieldSet(desired, live);
}

interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  apiVersion?: string;
  subresource?: string;
  fieldsV1?: unknown;
}

/** Whether Flotilla's last apply of `live` set exactly the fields that `desired` sets. */
export function sameFieldSet(desired: KubeObject, live: KubeObject): boolean {
  const entries = (
    Array.isArray(live.metadata.managedFields) ? live.metadata.managedFields : []
  ) as ManagedFieldsEntry[];
  const mine = entries.filter((e) => e.manager === FIELD_MANAGER && e.operation === "Apply" && !e.subresource);
  if (mine.length !== 1 || mine[0]!.apiVersion !== desired.apiVersion || !isPlainObject(mine[0]!.fieldsV1))
    return false;
  // The apiserver does not track these in field sets.
  const tracked: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(desired))
    if (k !== "apiVersion" && k !== "kind" && k !== "metadata") tracked[k] = v;
  const metadata: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(desired.metadata)) if (k !== "name" && k !== "namespace") metadata[k] = v;
  if (Object.keys(metadata).length > 0) tracked.metadata = metadata;
  return fieldsMatch(tracked, mine[0]!.fieldsV1, live);
}

/**
 * Whether a value sets exactly the fields of a `fieldsV1` node: `f:<name>` for map keys,
 * `k:{…}` for elements of keyed lists, `v:<json>` for set members, `i:<n>` by position. A node
 * with no children over a non-empty value is atomic: it must equal the live value as a whole.
 */
function fieldsMatch(value: unknown, node: Record<string, unknown>, live: unknown): boolean {
  const children = Object.keys(node).filter((k) => k !== ".");
  if (isPlainObject(value)) {
    const keys = Object.keys(value);
    if (children.length === 0) return keys.length === 0 || deepEqual(value, live);
    if (keys.length !== children.length) return false;
    const liveMap = isPlainObject(live) ? live : {};
    for (const key of keys) {
      const child = node[`f:${key}`];
      if (value[key] === null || !isPlainObject(child) || !fieldsMatch(value[key], child, liveMap[key])) return false;
    }
    return true;
  }
  if (Array.isArray(value)) {
    if (children.length === 0) return value.length === 0 || deepEqual(value, live);
    if (children.length !== value.length) return false;
    const liveList = Array.isArray(live) ? live : [];
    const used = new Set<number>();
    for (const c of children) {
      const child = node[c];
      if (!isPlainObject(child)) return false;
      let index = -1;
      let liveItem: unknown;
      if (c.startsWith("k:")) {
        const key = parseJson(c.slice(2));
        if (!isPlainObject(key)) return false;
        const hasKey = (item: unknown) =>
          isPlainObject(item) && Object.entries(key).every(([k, v]) => deepEqual(item[k], v));
        index = value.findIndex((item, i) => !used.has(i) && hasKey(item));
        liveItem = liveList.find(hasKey);
      } else if (c.startsWith("v:")) {
        const member = parseJson(c.slice(2));
        index = value.findIndex((item, i) => !used.has(i) && deepEqual(item, member));
        liveItem = member;
      } else if (c.startsWith("i:")) {
        index = Number(c.slice(2));
        liveItem = liveList[index];
      }
      if (index < 0 || index >= value.length || used.has(index)) return false;
      used.add(index);
      if (!fieldsMatch(value[index], child, liveItem)) return false;
    }
    return true;
  }
  return value !== null && children.length === 0;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Whether every field of `desired` has the same value in `live` (extra live fields allowed). */
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

/**
 * What a server-side apply would change: the fields that differ between the live object and the
 * dry-run's result, apiserver-owned metadata and status ignored, Secret values masked.
 */
export function dryRunChanges(live: KubeObject, dryRun: KubeObject): FieldChange[] {
  return fieldChanges(...maskSecrets(comparable(live), comparable(dryRun)));
}
