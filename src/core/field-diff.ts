import { deepEqual, isPlainObject, type KubeObject } from "./object.js";

/** One changed field: its path (`spec.template.spec.containers[name=app].image`) and both values. */
export interface FieldChange {
  path: string;
  change: "added" | "removed" | "changed";
  from?: unknown;
  to?: unknown;
}

/** Flux's masks (fluxcd/pkg ssa/jsondiff): fixed texts that say whether a value changed and nothing else. */
export const SECRET_MASK = "***";
export const SECRET_MASK_BEFORE = "*** (before)";
export const SECRET_MASK_AFTER = "*** (after)";
const MASKS = new Set([SECRET_MASK, SECRET_MASK_BEFORE, SECRET_MASK_AFTER]);

function isSecret(obj: KubeObject | undefined): boolean {
  return obj?.kind === "Secret" && (obj.apiVersion === "v1" || obj.apiVersion === undefined);
}

/**
 * Two versions of an object with the values of a Secret's `data` and `stringData` replaced by fixed
 * masks, as `flux diff` does: a value equal on both sides becomes `***` on both (so it diffs as
 * unchanged), a changed one `*** (before)` → `*** (after)`, an added or removed one `***`. No
 * digest of a value is shown, since a digest of a short password gives the password back.
 * `kubectl.kubernetes.io/last-applied-configuration` (which holds the values) becomes `(masked)`.
 * Other objects are returned as they are.
 */
export function maskSecrets<T extends KubeObject>(from: T, to: T): [T, T] {
  if (!isSecret(from) && !isSecret(to)) return [from, to];
  const a: Record<string, unknown> = { ...from, metadata: withoutLastApplied(from.metadata) };
  const b: Record<string, unknown> = { ...to, metadata: withoutLastApplied(to.metadata) };
  for (const field of ["data", "stringData"] as const) {
    const left = isPlainObject(from[field]) ? from[field] : undefined;
    const right = isPlainObject(to[field]) ? to[field] : undefined;
    const [maskedLeft, maskedRight] = maskValues(left ?? {}, right ?? {});
    if (left) a[field] = maskedLeft;
    if (right) b[field] = maskedRight;
  }
  return [a as T, b as T];
}

function maskValues(
  left: Record<string, unknown>,
  right: Record<string, unknown>,
): [Record<string, string>, Record<string, string>] {
  const l: Record<string, string> = {};
  const r: Record<string, string> = {};
  for (const key of Object.keys(left)) {
    const changed = key in right && !deepEqual(left[key], right[key]);
    l[key] = changed ? SECRET_MASK_BEFORE : SECRET_MASK;
    if (key in right) r[key] = changed ? SECRET_MASK_AFTER : SECRET_MASK;
  }
  for (const key of Object.keys(right)) if (!(key in left)) r[key] = SECRET_MASK;
  return [l, r];
}

function withoutLastApplied(metadata: KubeObject["metadata"]): KubeObject["metadata"] {
  const annotations = metadata?.annotations;
  if (!annotations?.["kubectl.kubernetes.io/last-applied-configuration"]) return metadata;
  return {
    ...metadata,
    annotations: { ...annotations, "kubectl.kubernetes.io/last-applied-configuration": "(masked)" },
  };
}

/** Whether a value is one of the Secret masks (its changes are reported without values). */
export function isMasked(value: unknown): boolean {
  return typeof value === "string" && MASKS.has(value);
}

/**
 * The fields that differ between `from` and `to`, depth first in key order. Lists of objects that
 * all carry a `name` are matched by name; other lists of equal length by index; the rest compare
 * as a whole.
 */
export function fieldChanges(from: unknown, to: unknown, path = ""): FieldChange[] {
  const out: FieldChange[] = [];
  walk(from, to, path, out);
  return out;
}

function walk(a: unknown, b: unknown, path: string, out: FieldChange[]): void {
  if (a === b) return;
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const key of [...keys].sort()) {
      const child = path ? `${path}.${key}` : key;
      if (!(key in a)) out.push({ path: child, change: "added", to: b[key] });
      else if (!(key in b)) out.push({ path: child, change: "removed", from: a[key] });
      else walk(a[key], b[key], child, out);
    }
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (byName(a) && byName(b)) {
      const left = new Map(a.map((item) => [(item as { name: string }).name, item]));
      const right = new Map(b.map((item) => [(item as { name: string }).name, item]));
      for (const [name, item] of left) {
        const child = `${path}[name=${name}]`;
        if (!right.has(name)) out.push({ path: child, change: "removed", from: item });
        else walk(item, right.get(name), child, out);
      }
      for (const [name, item] of right)
        if (!left.has(name)) out.push({ path: `${path}[name=${name}]`, change: "added", to: item });
      const order = (xs: unknown[]) => xs.map((x) => (x as { name: string }).name).join("\u0000");
      if (out.length === 0 && order(a) !== order(b)) out.push({ path, change: "changed", from: a, to: b });
      return;
    }
    if (a.length === b.length) {
      for (let i = 0; i < a.length; i++) walk(a[i], b[i], `${path}[${i}]`, out);
      return;
    }
    out.push({ path, change: "changed", from: a, to: b });
    return;
  }
  if (typeof a === "number" && typeof b === "number" && a === b) return;
  out.push({ path, change: "changed", from: a, to: b });
}

function byName(list: unknown[]): boolean {
  if (list.length === 0) return false;
  const names = new Set<string>();
  for (const item of list) {
    if (!isPlainObject(item) || typeof item.name !== "string" || names.has(item.name)) return false;
    names.add(item.name);
  }
  return true;
}
