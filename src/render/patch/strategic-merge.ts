import { InvalidInputError } from "../../core/errors.js";
import { deepClone, groupOf, isPlainObject, versionOf, type KubeObject } from "../../core/object.js";
import {
  appendElements,
  elementKeyValues,
  findElement,
  isEmptyMap,
  isMissingOrNull,
  keysInUse,
  scalarText,
  setElement,
  unifyKeyValues,
  usableKeys,
} from "./list-elements.js";
import type { GroupVersionKind, MergeSchema } from "./schema.js";

// A port of kustomize v5.5's strategic merge (kyaml merge2 over the walk package, with the
// patch's list elements placed first as kustomize's patch transformer asks). It works on private
// copies of both inputs and changes them in place the way kyaml changes its YAML nodes, so the
// corner cases (element order, keys missing on one side, directives inside added content) come
// out as `kubectl kustomize` prints them.
//
// What kyaml does, and so this does:
// - maps merge field by field; a null in the patch removes the field (a null in the target that
//   the patch does not mention stays);
// - a list merges by its merge keys only where the schema gives the kind a `merge` strategy for
//   it; every other list (and every list of a kind without schema, such as a CRD) is replaced;
// - `$patch: delete|replace|merge` on a map, and a `{$patch: …}` element in a merged list, act;
// - `$setElementOrder/…`, `$deleteFromPrimitiveList/…` and `$retainKeys` are NOT understood by
//   kustomize: they stay in the output as ordinary fields.

type Json = Record<string, unknown>;
type Kind = "map" | "list" | "scalar" | "none";

/** One merge: the schema, the field names from the object root to where the walk is (list indexes left out), and what errors name. */
interface Walk {
  schema: MergeSchema;
  stack: string[];
  context: { file?: string; object?: string };
}

/** The kind whose schema applies, and the depth of `stack` at that kind's root (an embedded object's root may be deep). */
interface Scope {
  gvk: GroupVersionKind | undefined;
  depth: number;
}

/**
 * Applies a strategic merge patch as kustomize does: maps merge, `null` deletes, lists merge by
 * their merge key where the schema declares one and are replaced otherwise; `$patch: delete`,
 * `$patch: replace` and `$patch: merge` are honoured. Returns a new object, or null when the
 * patch deletes the whole object. Inputs are not changed. Errors (a map where the object has a
 * scalar, an unknown `$patch`) name the field, and the file and object of `context` when given.
 */
export function strategicMerge(
  target: KubeObject,
  patch: Record<string, unknown>,
  schema: MergeSchema,
  context: { file?: string; object?: string } = {},
): KubeObject | null {
  const merged = walk(
    deepClone(target),
    deepClone(patch),
    { schema, stack: [], context },
    { gvk: undefined, depth: 0 },
  );
  if (!isPlainObject(merged) || isEmptyMap(merged)) return null;
  return merged as KubeObject;
}

function kindOf(value: unknown): Kind {
  if (isMissingOrNull(value)) return "none";
  if (Array.isArray(value)) return "list";
  return isPlainObject(value) ? "map" : "scalar";
}

const KIND_NAMES: Record<Kind, string> = { map: "a map", list: "a list", scalar: "a scalar", none: "nothing" };

function fieldPath(w: Walk, last?: string): string {
  return (last === undefined ? w.stack : [...w.stack, last]).join(".");
}

/** Where an error is: the context's file and object, and the field the walk is at. */
function at(w: Walk, last?: string): { file?: string; object?: string; field: string } {
  return { ...w.context, field: fieldPath(w, last) };
}

function walk(dest: unknown, origin: unknown, w: Walk, scope: Scope): unknown {
  const destKind = kindOf(dest);
  const originKind = kindOf(origin);
  const kind = destKind !== "none" ? destKind : originKind;
  if (originKind !== "none" && originKind !== kind) {
    throw new InvalidInputError(
      `the patch gives ${KIND_NAMES[originKind]} where the object has ${KIND_NAMES[kind]}`,
      at(w),
    );
  }
  switch (kind) {
    case "list":
      return walkList(dest, origin, w, scope);
    case "scalar":
      return origin !== undefined ? origin : dest;
    default:
      return walkMap(dest, origin, w, scopeForMap(dest, origin, w, scope));
  }
}

/** kyaml looks up the schema of a map's own apiVersion/kind wherever it has no schema yet. */
function scopeForMap(dest: unknown, origin: unknown, w: Walk, scope: Scope): Scope {
  if (scope.gvk !== undefined) return scope;
  for (const source of [dest, origin]) {
    if (!isPlainObject(source)) continue;
    const { apiVersion, kind } = source;
    if (typeof apiVersion !== "string" || typeof kind !== "string" || apiVersion === "" || kind === "") continue;
    const gvk = { group: groupOf(apiVersion), version: versionOf(apiVersion), kind };
    if (w.schema.knowsKind ? w.schema.knowsKind(gvk) : true) return { gvk, depth: w.stack.length };
  }
  return scope;
}

/** The `$patch` of a map, removed from it; kyaml's determineMappingNodePatchStrategy. */
function mapDirective(patch: unknown, w: Walk): "merge" | "replace" | "delete" {
  if (!isPlainObject(patch) || !("$patch" in patch)) return "merge";
  const value = patch.$patch;
  const text = scalarText(value);
  if (text === "delete" || text === "replace" || text === "merge") {
    delete patch.$patch;
    return text;
  }
  throw new InvalidInputError(`unknown patch strategy '${value === null ? "null" : text}'`, at(w, "$patch"));
}

/** The `{$patch: …}` element of a list, removed from it; kyaml's determineSequenceNodePatchStrategy. */
function listDirective(patch: unknown, w: Walk): "merge" | "replace" | "delete" {
  if (!Array.isArray(patch)) return "merge";
  const element = patch.find((e) => isPlainObject(e) && "$patch" in e) as Json | undefined;
  // An element with more fields than `$patch` is a directive for that element, not the list.
  if (element === undefined || Object.keys(element).length > 1) return "merge";
  const text = scalarText(element.$patch);
  if (text === "delete" || text === "replace" || text === "merge") {
    setElement(patch, ["$patch"], [text], undefined, at(w));
    return text;
  }
  throw new InvalidInputError(`unknown patch strategy '${text}'`, at(w, "$patch"));
}

function walkMap(dest: unknown, origin: unknown, w: Walk, scope: Scope): unknown {
  let result: unknown;
  if (isMissingOrNull(dest)) {
    let directive: string = "merge";
    try {
      directive = mapDirective(origin, w);
    } catch {
      // kyaml ignores a bad directive on content that is only added
    }
    if (directive === "delete") return undefined;
    result = origin;
  } else if (origin === null) {
    return undefined;
  } else {
    const directive = mapDirective(origin, w);
    if (directive === "delete") return undefined;
    result = directive === "replace" ? origin : dest;
  }
  if (!isPlainObject(result)) return result;
  const originMap = isPlainObject(origin) ? origin : undefined;
  for (const field of fieldNames(result, originMap)) {
    // kustomize keeps a null the patch does not mention (only the patch's own nulls delete).
    if (result[field] === null && originMap?.[field] === undefined) continue;
    w.stack.push(field);
    const value = walk(result[field], originMap?.[field], w, scope);
    w.stack.pop();
    if (isMissingOrNull(value)) delete result[field];
    else result[field] = value;
  }
  return result;
}

/** The fields of both maps, sorted as kyaml visits them. */
function fieldNames(a: Json, b: Json | undefined): string[] {
  const names = Object.keys(a);
  if (b !== undefined && b !== a) for (const name of Object.keys(b)) if (!(name in a)) names.push(name);
  return names.sort();
}

function walkList(dest: unknown, origin: unknown, w: Walk, scope: Scope): unknown {
  const merge =
    scope.gvk === undefined
      ? undefined
      : w.schema.listMergeKey(scope.gvk, scope.depth === 0 ? w.stack : w.stack.slice(scope.depth));
  if (merge?.strategy !== "merge") return origin !== undefined ? origin : dest;

  let list: unknown[];
  if (isMissingOrNull(dest)) list = origin as unknown[];
  else if (origin === null) return undefined;
  else {
    const directive = listDirective(origin, w);
    if (directive === "delete") return undefined;
    list = (directive === "replace" ? origin : dest) as unknown[];
  }
  const patchList = Array.isArray(origin) ? origin : undefined;
  const keys = merge.keys ?? (merge.key !== undefined ? [merge.key] : []);
  if (keys.length > 0) return mergeByKeys(list, patchList, keys, w, scope);
  return mergeScalars(list, patchList, w, scope);
}

/** The key values of the patch's elements, then of the object's, each once (the patch's come first). */
function keyValuesInOrder(list: unknown[], patchList: unknown[] | undefined, keys: readonly string[]): string[][] {
  const out: string[][] = [];
  const seen = new Set<string>();
  for (const source of patchList === undefined ? [list] : [patchList, list]) {
    for (const values of elementKeyValues(source, keys)) {
      const id = values.join("\u0000");
      if (seen.has(id)) continue;
      seen.add(id);
      out.push(values);
    }
  }
  return out;
}

function mergeByKeys(
  list: unknown[],
  patchList: unknown[] | undefined,
  keys: readonly string[],
  w: Walk,
  scope: Scope,
): unknown[] | undefined {
  if (keys.length === 1 && allKeyed(list, keys[0]!) && (patchList === undefined || allKeyed(patchList, keys[0]!))) {
    return mergeBySingleKey(list, patchList, keys[0]!, w, scope);
  }
  const where = at(w);
  const valuesList = keyValuesInOrder(list, patchList, keys);
  if (keys.length > 1) unifyKeyValues(valuesList);
  const present = keysInUse(valuesList, keys);
  const merged: unknown[] = [];
  let lastKeys: string[] = [...keys];
  for (const values of valuesList) {
    const { keys: useKeys, texts } = usableKeys(present, values, keys);
    lastKeys = useKeys;
    const lookup = usableKeys(keysInUse([texts], useKeys), texts, useKeys);
    const destElement = findElement(list, lookup.keys, lookup.texts);
    const patchElement = patchList === undefined ? undefined : findElement(patchList, lookup.keys, lookup.texts);
    const value = walk(destElement, patchElement, w, scope);
    if (isMissingOrNull(value) || isEmptyMap(value)) {
      setElement(list, useKeys, texts, undefined, where);
      continue;
    }
    if (isPlainObject(value)) {
      useKeys.forEach((key, i) => {
        if (!(key in value) && texts[i] !== "") value[key] = texts[i];
      });
    }
    setElement(merged, useKeys, texts, value, where);
  }
  if (valuesList.length === 0) return list;
  appendElements(merged, list, lastKeys, where);
  return merged;
}

/** True when every element is a map whose `key` holds a non-empty scalar. */
function allKeyed(list: readonly unknown[], key: string): boolean {
  for (const element of list) if (!isPlainObject(element) || scalarText(element[key]) === "") return false;
  return true;
}

/**
 * mergeByKeys for the common case (one merge key, set on every element), indexed with Maps so it
 * stays linear. With every key present and non-empty, kyaml's scans reduce to: merge the patch's
 * elements in order with their first counterpart, drop deleted keys, then set the object's
 * remaining elements by key (a later duplicate replacing an earlier one) or append them.
 */
function mergeBySingleKey(
  list: unknown[],
  patchList: unknown[] | undefined,
  key: string,
  w: Walk,
  scope: Scope,
): unknown[] {
  const firstByText = (source: readonly unknown[]): Map<string, unknown> => {
    const index = new Map<string, unknown>();
    for (const element of source) {
      const text = scalarText((element as Json)[key]);
      if (!index.has(text)) index.set(text, element);
    }
    return index;
  };
  const destIndex = firstByText(list);
  const patchIndex = patchList === undefined ? undefined : patchList === list ? destIndex : firstByText(patchList);
  const order =
    patchIndex === undefined || patchIndex === destIndex
      ? [...destIndex.keys()]
      : [...patchIndex.keys(), ...[...destIndex.keys()].filter((t) => !patchIndex.has(t))];
  const merged: unknown[] = [];
  const position = new Map<string, number>();
  const deleted = new Set<string>();
  for (const text of order) {
    const value = walk(destIndex.get(text), patchIndex?.get(text), w, scope);
    if (isMissingOrNull(value) || isEmptyMap(value)) {
      deleted.add(text);
      destIndex.delete(text);
      patchIndex?.delete(text);
      continue;
    }
    if (isPlainObject(value) && !(key in value)) value[key] = text;
    position.set(text, merged.length);
    merged.push(value);
  }
  if (order.length === 0) return list;
  for (const element of list) {
    const text = scalarText((element as Json)[key]);
    if (deleted.has(text)) continue;
    const at = position.get(text);
    if (at === undefined) {
      position.set(text, merged.length);
      merged.push(element);
    } else merged[at] = element;
  }
  return merged;
}

function mergeScalars(list: unknown[], patchList: unknown[] | undefined, w: Walk, scope: Scope): unknown[] {
  const where = at(w);
  const texts: string[] = [];
  const seen = new Set<string>();
  for (const source of patchList === undefined ? [list] : [patchList, list]) {
    for (const element of source) {
      const text = scalarText(element);
      if (seen.has(text)) continue;
      seen.add(text);
      texts.push(text);
    }
  }
  if (texts.length === 0) return list;
  const merged: unknown[] = [];
  for (const text of texts) {
    const destElement = findElement(list, [""], [text]);
    const patchElement = patchList === undefined ? undefined : findElement(patchList, [""], [text]);
    const value = walk(destElement, patchElement, w, scope);
    if (isMissingOrNull(value) || isEmptyMap(value)) {
      setElement(list, [""], [text], undefined, where);
      continue;
    }
    setElement(merged, [""], [text], value, where);
  }
  appendElements(merged, list, [""], where);
  return merged;
}
