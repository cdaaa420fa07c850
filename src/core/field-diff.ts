import { createHash } from "node:crypto";
import { isPlainObject, type KubeObject } from "./object.js";

/** One changed field: its path (`spec.template.spec.containers[name=app].image`) and both values. */
export interface FieldChange {
  path: string;
  change: "added" | "removed" | "changed";
  from?: unknown;
  to?: unknown;
}

const MASK_PREFIX = "(masked sha256:";

/**
 * A Secret with every value of `data` and `stringData` replaced by a short digest, so that diffs
 * say a value changed without showing it. Other objects are returned as they are.
 */
export function maskSecret<T extends KubeObject>(obj: T): T {
  if (obj.kind !== "Secret" || (obj.apiVersion !== "v1" && obj.apiVersion !== undefined)) return obj;
  const masked: Record<string, unknown> = { ...obj };
  for (const field of ["data", "stringData"] as const) {
    const values = obj[field];
    if (!isPlainObject(values)) continue;
    const out: Record<string, string> = {};
    for (const [key, value] of Object.entries(values)) {
      out[key] = `${MASK_PREFIX}${createHash("sha256").update(String(value)).digest("hex").slice(0, 12)})`;
    }
    masked[field] = out;
  }
  const annotations = obj.metadata.annotations;
  if (annotations?.["kubectl.kubernetes.io/last-applied-configuration"]) {
    masked.metadata = { ...obj.metadata, annotations: { ...annotations, "kubectl.kubernetes.io/last-applied-configuration": "(masked)" } };
  }
  return masked as T;
}

/** Whether a value is a masked Secret value (its changes are reported without values). */
export function isMasked(value: unknown): boolean {
  return typeof value === "string" && value.startsWith(MASK_PREFIX);
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
      for (const [name, item] of right) if (!left.has(name)) out.push({ path: `${path}[name=${name}]`, change: "added", to: item });
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
