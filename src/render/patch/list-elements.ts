import { InvalidInputError, type ErrorLocation } from "../../core/errors.js";
import { isPlainObject } from "../../core/object.js";

// The list primitives of kyaml (ElementSetter, ElementMatcher, appendListNode, …) on plain JSON
// values. kustomize compares merge keys as YAML scalar text, so values are compared as strings,
// and an empty string stands for "no value" exactly where kyaml's does.

type Json = Record<string, unknown>;

/** True for a missing (undefined) or null value. */
export function isMissingOrNull(value: unknown): value is undefined | null {
  return value === undefined || value === null;
}

/** True for a map with no fields. */
export function isEmptyMap(value: unknown): boolean {
  if (!isPlainObject(value)) return false;
  for (const _ in value) return false;
  return true;
}

/** A scalar as its YAML text; "" for null, maps and lists (kyaml's node Value). */
export function scalarText(value: unknown): string {
  switch (typeof value) {
    case "string":
      return value;
    case "number":
    case "bigint":
    case "boolean":
      return String(value);
    default:
      return "";
  }
}

/** The values of `keys` in each element ("" where an element lacks one): kyaml's ElementValuesList. */
export function elementKeyValues(list: readonly unknown[], keys: readonly string[]): string[][] {
  return list.map((element) => keys.map((key) => (isPlainObject(element) ? scalarText(element[key]) : "")));
}

/**
 * kyaml's FieldMatcher on one element: the element's field `name` when its text equals `text`, or
 * when `text` is "" and the field exists at all; `name` "" compares a scalar element itself.
 */
function matchField(element: unknown, name: string, text: string, where: ErrorLocation): unknown {
  if (isMissingOrNull(element)) return undefined;
  if (name === "") {
    if (isPlainObject(element) || Array.isArray(element))
      throw new InvalidInputError("a list merged as a set of scalars holds a map or list", where);
    return scalarText(element) === text ? element : undefined;
  }
  if (!isPlainObject(element))
    throw new InvalidInputError(`a list merged by '${name}' holds an element that is not a map`, where);
  if (!(name in element)) return undefined;
  const value = element[name];
  if (text === "") return value ?? null;
  return scalarText(value) === text ? value : undefined;
}

/** The first element whose `keys` all have the given texts (kyaml's ElementList), or undefined. */
export function findElement(list: readonly unknown[], keys: readonly string[], texts: readonly string[]): unknown {
  if (keys.length === 0 || keys[0] === "") {
    const text = texts[0] ?? "";
    return list.find((element) => !isPlainObject(element) && !Array.isArray(element) && scalarText(element) === text);
  }
  return list.find((element) => {
    if (!isPlainObject(element)) return false;
    return keys.every(
      (key, i) => key in element && element[key] !== null && scalarText(element[key]) === (texts[i] ?? ""),
    );
  });
}

/**
 * kyaml's ElementSetter, in place: drops null and empty-map elements, replaces the elements that
 * match `keys`/`texts` with `element` (or removes them when `element` is undefined), and appends
 * `element` when nothing matched.
 */
export function setElement(
  list: unknown[],
  keys: readonly string[],
  texts: readonly string[],
  element: unknown,
  where: ErrorLocation,
): void {
  const matchKeys = keys.length === 0 ? [""] : keys;
  const mappingSetter = matchKeys[0] !== "" && texts.length > 0 && texts[0] !== "";
  let write = 0;
  let matched = false;
  const length = list.length;
  for (let read = 0; read < length; read++) {
    const current = list[read];
    if (isMissingOrNull(current) || isEmptyMap(current)) continue;
    if (!isPlainObject(current) && mappingSetter) {
      list[write++] = current;
      continue;
    }
    let found = true;
    let last: unknown;
    for (let j = 0; j < matchKeys.length; j++) {
      // kyaml keeps the previous key's result for keys beyond the values given.
      if (j < texts.length) last = matchField(current, matchKeys[j]!, texts[j]!, where);
      if (last === undefined) {
        found = false;
        break;
      }
    }
    if (!found) {
      if (texts.length > 0) list[write++] = current;
      continue;
    }
    matched = true;
    if (element !== undefined) list[write++] = element;
  }
  list.length = write;
  if (isMissingOrNull(element)) return;
  if (!matched) list.push(element);
}

/** The keys that some element in the whole merge sets (kustomize ignores a secondary key none sets). */
export function keysInUse(valuesList: readonly (readonly string[])[], keys: readonly string[]): Set<string> {
  const present = new Set<string>();
  for (const values of valuesList) values.forEach((text, i) => text !== "" && present.add(keys[i]!));
  return present;
}

/**
 * The keys and texts used to find an element: kustomize's validateKeys, which drops a secondary key
 * (protocol) that no element sets and keeps the others even when empty.
 */
export function usableKeys(
  present: ReadonlySet<string>,
  values: readonly string[],
  keys: readonly string[],
): { keys: string[]; texts: string[] } {
  if (present.size === 0) return { keys: [...keys], texts: [...values] };
  return {
    keys: keys.filter((key) => present.has(key)),
    texts: values.filter((text, i) => text !== "" || present.has(keys[i]!)),
  };
}

/**
 * Pairs key tuples that name the same element when one leaves a secondary key empty (a port with
 * and without `protocol`), in place, as kustomize's mergeValues does.
 */
export function unifyKeyValues(valuesList: string[][]): void {
  for (let i = 0; i < valuesList.length; i++) {
    for (let j = 0; j < valuesList.length; j++) {
      const merged = unify(valuesList[i]!, valuesList[j]!);
      if (merged) {
        valuesList[i] = merged;
        valuesList[j] = merged;
      }
    }
  }
}

function unify(a: readonly string[], b: readonly string[]): string[] | undefined {
  if (a.length !== b.length) return undefined;
  let common = false;
  const out: string[] = [];
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) {
      common = true;
      out.push(a[i]!);
    } else if (a[i] !== "" && b[i] !== "") return undefined;
    else out.push(a[i] !== "" ? a[i]! : b[i]!);
  }
  return common ? out : undefined;
}

/**
 * kyaml's appendListNode: sets each element of `from` into `into` by its key values, appending the
 * ones with no counterpart (and those lacking a key).
 */
export function appendElements(
  into: unknown[],
  from: readonly unknown[],
  keys: readonly string[],
  where: ErrorLocation,
): void {
  for (const element of from) {
    if (keys[0] === "") {
      setElement(into, [""], [scalarText(element)], element, where);
      continue;
    }
    if (!isPlainObject(element) && !isMissingOrNull(element)) {
      throw new InvalidInputError(`a list merged by '${keys.join(", ")}' holds an element that is not a map`, where);
    }
    const texts: string[] = [];
    for (const key of keys) {
      // kyaml appends an element that lacks a key once per missing key, then sets it by the others.
      if (!isPlainObject(element) || !(key in element)) into.push(element);
      else texts.push(scalarText((element as Json)[key]));
    }
    if (keys.length > 1) setElement(into, keys, texts, undefined, where);
    setElement(into, keys, texts, element, where);
  }
}
