import { InvalidInputError } from "../core/errors.js";
import { deepClone, groupOf, isPlainObject, versionOf } from "../core/object.js";
import { isClusterScoped } from "./field-specs.js";
import type { PatchTarget } from "./kustomization-file.js";
import {
  lookupSource,
  matchTargets,
  PathError,
  plainScalar,
  scalarText,
  splitReplacementPath,
  type LeafKind,
  type TargetSlot,
} from "./replacement-path.js";
import { describeResource, type Resource } from "./resource.js";
import { parseLabelSelector } from "./selector.js";

interface ReplacementOptions {
  delimiter?: string;
  index?: number;
  create?: boolean;
}

/** The replacement value: its YAML text and the value a copy of the source node holds. */
interface SourceValue {
  text: string;
  value: unknown;
}

type Where = { file: string; field: string };

/**
 * kustomize `replacements`: copy a field of one object (the source) into fields of others (the
 * targets), optionally as one part of a delimited string. `first` numbers the entries in messages
 * when they are a part of a longer list.
 */
export function applyReplacements(
  resources: readonly Resource[],
  replacements: ReadonlyArray<Record<string, unknown>>,
  file: string,
  first = 0,
): void {
  replacements.forEach((r, i) => {
    const where = { file, field: `replacements[${first + i}]` };
    if (!isPlainObject(r.source)) throw new InvalidInputError("needs a source", where);
    if (!Array.isArray(r.targets))
      throw new InvalidInputError("needs at least one target", { ...where, field: `${where.field}.targets` });
    const value = sourceValue(resources, r.source as SourceSpec, { ...where, field: `${where.field}.source` });
    r.targets.forEach((t, ti) =>
      applyTarget(resources, t, value, { ...where, field: `${where.field}.targets[${ti}]` }),
    );
  });
}

type SourceSpec = PatchTarget & { fieldPath?: string; options?: ReplacementOptions };

function sourceValue(resources: readonly Resource[], source: SourceSpec, where: Where): SourceValue {
  const selected = selectsId(source);
  const matches = resources.filter(selected);
  if (matches.length === 0)
    throw new InvalidInputError(`nothing matches the source selector ${JSON.stringify(stripUndefined(source))}`, where);
  if (matches.length > 1)
    throw new InvalidInputError(
      `more than one object matches the source selector: ${matches.map(describeResource).join(", ")}`,
      where,
    );
  const fieldPath = source.fieldPath || "metadata.name";
  const fieldWhere = { ...where, field: `${where.field}.fieldPath` };
  let found: unknown;
  try {
    found = lookupSource(matches[0]!.obj, splitReplacementPath(fieldPath));
  } catch (error) {
    throw pathError(error, `source field '${fieldPath}' on ${describeResource(matches[0]!)}`, fieldWhere);
  }
  if (isNilOrEmpty(found))
    throw new InvalidInputError(
      `source field '${fieldPath}' is not set on ${describeResource(matches[0]!)}`,
      fieldWhere,
    );
  const delimiter = source.options?.delimiter;
  if (!delimiter) return { text: scalarText(found), value: deepClone(found) };
  if (isPlainObject(found) || Array.isArray(found))
    throw new InvalidInputError("the delimiter option can only be used with a scalar source field", {
      ...where,
      field: `${where.field}.options.delimiter`,
    });
  const parts = scalarText(found).split(delimiter);
  const index = source.options?.index ?? 0;
  if (index < 0 || index >= parts.length) {
    throw new InvalidInputError(
      `options.index ${index} is out of bounds: the source field has ${parts.length} parts separated by '${delimiter}'`,
      { ...where, field: `${where.field}.options.index` },
    );
  }
  const text = parts[index]!;
  return { text, value: typeof found === "string" ? text : plainScalar(text) };
}

function applyTarget(resources: readonly Resource[], t: unknown, value: SourceValue, where: Where): void {
  if (!isPlainObject(t) || !isPlainObject(t.select))
    throw new InvalidInputError("a target must specify resources to select", where);
  const select = selectsTarget(t.select as PatchTarget, where);
  const rejects = (Array.isArray(t.reject) ? t.reject : [])
    .filter(isPlainObject)
    .map((x) => rejectsTarget(x as PatchTarget, where));
  const options = (isPlainObject(t.options) ? t.options : {}) as ReplacementOptions;
  const paths = Array.isArray(t.fieldPaths) && t.fieldPaths.length > 0 ? t.fieldPaths.map(String) : ["metadata.name"];
  const create: LeafKind | undefined = options.create
    ? isPlainObject(value.value)
      ? "map"
      : Array.isArray(value.value)
        ? "list"
        : "scalar"
    : undefined;
  for (const res of resources) {
    if (!select(res) || rejects.some((reject) => reject(res))) continue;
    for (const p of paths) {
      let slots: TargetSlot[];
      try {
        slots = matchTargets(res.obj as unknown as Record<string, unknown>, splitReplacementPath(p), create);
      } catch (error) {
        throw pathError(
          error,
          `unable to find${create ? " or create" : ""} field "${p}" in replacement target ${describeResource(res)}`,
          where,
        );
      }
      if (slots.length === 0)
        throw new InvalidInputError(
          `unable to find${create ? " or create" : ""} field "${p}" in replacement target ${describeResource(res)}`,
          where,
        );
      for (const slot of slots)
        setTarget(slot, value, options, {
          ...where,
          field: `${where.field}.fieldPaths: ${p} in ${describeResource(res)}`,
        });
    }
  }
}

/**
 * Writes the value where a target path leads. A scalar already there keeps its type (kustomize
 * copies only the text: an int field stays an int, a string stays a string); a field the path
 * created reads as a plain YAML scalar would; a map or list is replaced by a copy of the value.
 */
function setTarget(slot: TargetSlot, value: SourceValue, options: ReplacementOptions, where: Where): void {
  const current = (slot.parent as Record<string | number, unknown>)[slot.key];
  const isContainer = isPlainObject(current) || Array.isArray(current);
  let text = value.text;
  if (options.delimiter) {
    if (isContainer)
      throw new InvalidInputError("the delimiter option can only be used with a scalar target field", where);
    const parts = scalarText(current).split(options.delimiter);
    const index = options.index ?? 0;
    if (index < 0) parts.unshift(text);
    else if (index >= parts.length) parts.push(text);
    else parts[index] = text;
    text = parts.join(options.delimiter);
  }
  const valueIsContainer = isPlainObject(value.value) || Array.isArray(value.value);
  let next: unknown;
  if (isContainer) next = deepClone(value.value);
  else if (slot.created) next = valueIsContainer && !options.delimiter ? deepClone(value.value) : plainScalar(text);
  else next = retyped(current, text, where);
  (slot.parent as Record<string | number, unknown>)[slot.key] = next;
}

/** The text as a value of the type of the scalar it replaces; kustomize fails where the text is not one. */
function retyped(current: unknown, text: string, where: Where): unknown {
  if (typeof current === "string") return text;
  const read = plainScalar(text);
  if (typeof current === "number" && typeof read === "number") return read;
  if (typeof current === "boolean" && typeof read === "boolean") return read;
  const type =
    current === null
      ? "null"
      : typeof current === "number"
        ? "number"
        : typeof current === "boolean"
          ? "boolean"
          : typeof current;
  throw new InvalidInputError(`the target field is a ${type} and the replacement value is not one`, where);
}

function isNilOrEmpty(v: unknown): boolean {
  return (
    v === undefined ||
    v === null ||
    (Array.isArray(v) && v.length === 0) ||
    (isPlainObject(v) && Object.keys(v).length === 0)
  );
}

function pathError(error: unknown, what: string, where: Where): unknown {
  if (!(error instanceof PathError)) return error;
  return new InvalidInputError(`${what}: ${error.message}`, where);
}

function stripUndefined(o: object): object {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && typeof v !== "object"));
}

/** kustomize's effective namespace: none for a cluster-scoped kind, `default` for an empty one. */
function effectiveNamespace(kind: string, namespace: string | undefined): string {
  if (kind && isClusterScoped({ apiVersion: "", kind, metadata: {} })) return "\u0000cluster";
  return namespace === undefined || namespace === "" || namespace === "default" ? "default" : namespace;
}

/**
 * Whether any id the object has had (current or before a prefix, suffix or namespace changed it)
 * is selected by group, version, kind, name and namespace, compared exactly as kustomize's ResId
 * does for replacements (no regular expressions; `default` and no namespace are the same).
 */
function selectsId(sel: PatchTarget): (res: Resource) => boolean {
  return (res) => {
    const { apiVersion, kind } = res.obj;
    if (sel.group && groupOf(apiVersion) !== sel.group) return false;
    if (sel.version && versionOf(apiVersion) !== sel.version) return false;
    if (sel.kind && kind !== sel.kind) return false;
    return res.names.some(
      (n) =>
        (!sel.name || sel.name === n.name) &&
        (!sel.namespace || effectiveNamespace(sel.kind ?? "", sel.namespace) === effectiveNamespace(kind, n.namespace)),
    );
  };
}

function metadataSelector(sel: PatchTarget, where: Where): (res: Resource) => boolean {
  const labels = sel.labelSelector ? parseLabelSelector(sel.labelSelector, where) : undefined;
  const annotations = sel.annotationSelector ? parseLabelSelector(sel.annotationSelector, where) : undefined;
  return (res) =>
    (!labels || labels(res.obj.metadata.labels ?? {})) &&
    (!annotations || annotations(res.obj.metadata.annotations ?? {}));
}

const hasId = (sel: PatchTarget): boolean => Boolean(sel.group || sel.version || sel.kind || sel.name || sel.namespace);

function selectsTarget(sel: PatchTarget, where: Where): (res: Resource) => boolean {
  const byId = selectsId(sel);
  const byMeta = metadataSelector(sel, where);
  return (res) => byMeta(res) && byId(res);
}

/** A reject entry drops a target by its id, and separately by its labels and annotations, as kustomize does. */
function rejectsTarget(sel: PatchTarget, where: Where): (res: Resource) => boolean {
  const byId = hasId(sel) ? selectsId(sel) : undefined;
  const byMeta = sel.labelSelector || sel.annotationSelector ? metadataSelector(sel, where) : undefined;
  return (res) => (byId?.(res) ?? false) || (byMeta?.(res) ?? false);
}
