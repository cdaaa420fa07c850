import { deepClone, isPlainObject, type KubeObject } from "../../core/object.js";
import type { MergeSchema } from "./schema.js";

type Json = Record<string, unknown>;
const DIRECTIVE_PREFIXES = ["$setElementOrder/", "$deleteFromPrimitiveList/", "$retainKeys"];

/**
 * Applies a strategic merge patch as kustomize does: maps merge, `null` deletes, lists merge by
 * their merge key where the schema declares one and are replaced otherwise; `$patch: delete`,
 * `$patch: replace`, `$retainKeys` and `$deleteFromPrimitiveList/<list>` are honoured. Returns a new
 * object, or null when the patch deletes the whole object. Inputs are not changed.
 */
export function strategicMerge(target: KubeObject, patch: Json, schema: MergeSchema): KubeObject | null {
  if (patch.$patch === "delete") return null;
  if (patch.$patch === "replace") return stripDirectives(deepClone(patch)) as KubeObject;
  return mergeMap(target as Json, patch, [], target, schema) as KubeObject;
}

function mergeMap(dest: Json, patch: Json, path: string[], root: KubeObject, schema: MergeSchema): Json {
  const out: Json = { ...dest };
  for (const key of Object.keys(patch)) {
    if (key === "$patch" || DIRECTIVE_PREFIXES.some((p) => key.startsWith(p))) continue;
    const value = patch[key];
    if (value === null) {
      delete out[key];
      continue;
    }
    const current = out[key];
    const childPath = [...path, key];
    if (isPlainObject(value)) {
      if (value.$patch === "delete") {
        delete out[key];
        continue;
      }
      if (value.$patch === "replace" || !isPlainObject(current)) {
        out[key] = stripDirectives(deepClone(value));
        continue;
      }
      out[key] = mergeMap(current, value, childPath, root, schema);
      continue;
    }
    if (Array.isArray(value)) {
      const deleteFrom = patch[`$deleteFromPrimitiveList/${key}`];
      out[key] = mergeList(Array.isArray(current) ? current : undefined, value, childPath, root, schema);
      if (Array.isArray(deleteFrom) && Array.isArray(out[key])) {
        out[key] = (out[key] as unknown[]).filter((x) => !deleteFrom.includes(x));
      }
      continue;
    }
    out[key] = value;
  }
  for (const key of Object.keys(patch)) {
    if (!key.startsWith("$deleteFromPrimitiveList/")) continue;
    const list = key.slice("$deleteFromPrimitiveList/".length);
    const remove = patch[key];
    if (Array.isArray(out[list]) && Array.isArray(remove) && !(list in patch)) out[list] = (out[list] as unknown[]).filter((x) => !remove.includes(x));
  }
  const retain = patch.$retainKeys;
  if (Array.isArray(retain)) for (const k of Object.keys(out)) if (!retain.includes(k)) delete out[k];
  return out;
}

function mergeList(dest: unknown[] | undefined, patch: unknown[], path: string[], root: KubeObject, schema: MergeSchema): unknown[] {
  const merge = schema.listMerge(root, path);
  const replaceDirective = patch.find((x) => isPlainObject(x) && x.$patch === "replace" && Object.keys(x).length === 1);
  if (replaceDirective) return patch.filter((x) => x !== replaceDirective).map((x) => stripDirectives(deepClone(x)));
  if (!merge || merge.strategy === "replace" || !dest) {
    return patch.filter((x) => !(isPlainObject(x) && x.$patch === "delete")).map((x) => stripDirectives(deepClone(x)));
  }
  if (!merge.key) {
    const out = [...dest];
    for (const item of patch) if (!out.some((x) => x === item)) out.push(item);
    return out;
  }
  // kyaml's order: the patch's elements first, in the patch's order (merged with their
  // counterparts), then the elements the patch does not mention, in their order.
  const key = merge.key;
  const byId = new Map<string, number>();
  dest.forEach((item, i) => {
    if (isPlainObject(item) && item[key] !== undefined) byId.set(String(item[key]), i);
  });
  const used = new Set<number>();
  const head: unknown[] = [];
  for (const item of patch) {
    if (!isPlainObject(item) || item[key] === undefined) {
      head.push(stripDirectives(deepClone(item)));
      continue;
    }
    const at = byId.get(String(item[key]));
    if (at !== undefined) used.add(at);
    if (item.$patch === "delete") continue;
    if (at === undefined || item.$patch === "replace") head.push(stripDirectives(deepClone(item)));
    else head.push(mergeMap(dest[at] as Json, item, path, root, schema));
  }
  return [...head, ...dest.filter((_, i) => !used.has(i))];
}

/** Removes patch directives from a value that is inserted as is. */
function stripDirectives<T>(value: T): T {
  if (Array.isArray(value)) return value.filter((x) => !(isPlainObject(x) && x.$patch === "delete")).map(stripDirectives) as T;
  if (isPlainObject(value)) {
    const out: Json = {};
    for (const [k, v] of Object.entries(value)) {
      if (k === "$patch" || DIRECTIVE_PREFIXES.some((p) => k.startsWith(p))) continue;
      out[k] = stripDirectives(v);
    }
    return out as T;
  }
  return value;
}
