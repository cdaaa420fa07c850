import { InvalidInputError } from "../../core/errors.js";
import { isPlainObject } from "../../core/object.js";
import { BUILTIN_DEFINITIONS } from "./builtin-openapi.js";

/** What strategic merge needs to know about one field of a definition. */
export interface FieldRule {
  /** `x-kubernetes-patch-strategy` of a list field: `merge`, `replace`, `merge,retainKeys`, … */
  strategy?: string;
  /** The merge keys: `x-kubernetes-list-map-keys` if declared, else `[x-kubernetes-patch-merge-key]`; `[]` for a list of scalars merged as a set. */
  keys?: string[];
  /** The definition of the field's value (of its items, for a list). */
  type?: string;
}

/** Definitions by name; each maps field names (`*` = any key of a map) to their rule. */
export type SchemaDefinitions = Readonly<Record<string, Readonly<Record<string, FieldRule>>>>;

/** Definitions plus the definition of each kind, keyed `group/version/kind`. */
export interface CompiledSchema {
  kinds: Readonly<Record<string, string>>;
  definitions: SchemaDefinitions;
}

const REF_PREFIX = "#/definitions/";

/**
 * A `$ref` to a Kubernetes definition the document does not hold (`io.k8s.api.core.v1.PodTemplateSpec`):
 * kustomize adds a custom schema to its built-in one, so the reference reaches the built-in
 * definition. Its name among Flotilla's built-in definitions, if it is one.
 */
function builtinDefinition(ref: unknown, source: Record<string, unknown>): string | undefined {
  if (typeof ref !== "string" || !ref.startsWith(REF_PREFIX)) return undefined;
  const name = ref.slice(REF_PREFIX.length);
  if (name in source) return undefined;
  return [name.replace(/^io\.k8s\.api\./, ""), name.replace(/^io\.k8s\./, "")].find((n) => n in BUILTIN_DEFINITIONS);
}

/**
 * Reads a Swagger 2.0 / OpenAPI document as kustomize's `openapi: {path: …}` takes it: definitions
 * tagged with `x-kubernetes-group-version-kind`, `$ref`s into `#/definitions/`, inline object and
 * item schemas, `additionalProperties`, and the patch strategy and merge key extensions.
 */
export function compileOpenApi(doc: unknown, file?: string): CompiledSchema {
  const where = file === undefined ? {} : { file };
  if (!isPlainObject(doc) || !isPlainObject(doc.definitions)) {
    throw new InvalidInputError("an OpenAPI schema needs a 'definitions' map", { ...where, field: "definitions" });
  }
  const source = doc.definitions;
  const definitions: Record<string, Record<string, FieldRule>> = {};
  const kinds: Record<string, string> = {};

  const resolve = (node: unknown, field: string): Record<string, unknown> | undefined => {
    let current = node;
    for (let hops = 0; isPlainObject(current) && typeof current.$ref === "string"; hops++) {
      if (hops > 64) throw new InvalidInputError(`$ref chain too long at ${field}`, { ...where, field });
      const ref = current.$ref;
      if (!ref.startsWith(REF_PREFIX))
        throw new InvalidInputError(`only local '#/definitions/' references are supported, not '${ref}'`, {
          ...where,
          field,
        });
      current = source[ref.slice(REF_PREFIX.length)];
      if (current === undefined) throw new InvalidInputError(`'${ref}' names no definition`, { ...where, field });
    }
    return isPlainObject(current) ? current : undefined;
  };

  // The name under which a (possibly inline) schema is compiled: its definition when it is a
  // reference, else a synthetic name from the place it appears.
  const nameOf = (node: unknown, place: string): string | undefined => {
    let current = node;
    let name: string | undefined;
    while (isPlainObject(current) && typeof current.$ref === "string" && current.$ref.startsWith(REF_PREFIX)) {
      name = current.$ref.slice(REF_PREFIX.length);
      current = source[name];
    }
    if (!isPlainObject(current)) return undefined;
    return name ?? place;
  };

  const compile = (name: string, node: Record<string, unknown>): void => {
    if (name in definitions) return;
    const rules: Record<string, FieldRule> = {};
    definitions[name] = rules;
    const addRule = (field: string, raw: unknown): void => {
      const place = `${name}.${field}`;
      const builtinField = isPlainObject(raw) ? builtinDefinition(raw.$ref, source) : undefined;
      if (builtinField !== undefined) {
        rules[field] = { type: builtinField };
        return;
      }
      // kyaml resolves a `$ref` before reading extensions, so a referenced schema's own count.
      const prop = resolve(raw, place);
      if (!prop) return;
      const rule: FieldRule = {};
      const strategy = prop["x-kubernetes-patch-strategy"];
      if (typeof strategy === "string") {
        rule.strategy = strategy;
        const mapKeys = prop["x-kubernetes-list-map-keys"];
        const mergeKey = prop["x-kubernetes-patch-merge-key"];
        rule.keys = Array.isArray(mapKeys) ? mapKeys.map(String) : typeof mergeKey === "string" ? [mergeKey] : [];
      }
      const valueSchema =
        prop.type === "array" || prop.items !== undefined
          ? prop.items
          : prop.properties !== undefined || prop.additionalProperties !== undefined
            ? raw
            : undefined;
      const builtinItems = isPlainObject(valueSchema) ? builtinDefinition(valueSchema.$ref, source) : undefined;
      if (builtinItems !== undefined) {
        rules[field] = { ...rule, type: builtinItems };
        return;
      }
      const valueName = valueSchema === undefined ? undefined : nameOf(valueSchema, `${place}[]`);
      const resolved = valueSchema === undefined ? undefined : resolve(valueSchema, place);
      if (valueName !== undefined && resolved) {
        rule.type = valueName;
        compile(valueName, resolved);
      }
      rules[field] = rule;
    };
    if (isPlainObject(node.properties)) for (const [field, raw] of Object.entries(node.properties)) addRule(field, raw);
    if (isPlainObject(node.additionalProperties)) addRule("*", node.additionalProperties);
  };

  for (const [name, raw] of Object.entries(source)) {
    if (!isPlainObject(raw)) continue;
    const gvks = raw["x-kubernetes-group-version-kind"];
    if (!Array.isArray(gvks)) continue;
    compile(name, resolve(raw, name) ?? {});
    for (const gvk of gvks) {
      if (!isPlainObject(gvk) || typeof gvk.kind !== "string" || typeof gvk.version !== "string") continue;
      kinds[`${typeof gvk.group === "string" ? gvk.group : ""}/${gvk.version}/${gvk.kind}`] = name;
    }
  }
  // The built-in definitions stay reachable under their own names (a custom one of the same name wins).
  return { kinds, definitions: { ...BUILTIN_DEFINITIONS, ...definitions } };
}

/** The rule of the field at `path` (list indexes left out) under definition `root`, if the schema has one. */
export function ruleAt(definitions: SchemaDefinitions, root: string, path: readonly string[]): FieldRule | undefined {
  let definition = definitions[root];
  let rule: FieldRule | undefined;
  for (const segment of path) {
    if (definition === undefined) return undefined;
    rule = definition[segment] ?? definition["*"];
    if (rule === undefined) return undefined;
    definition = rule.type === undefined ? undefined : definitions[rule.type];
  }
  return rule;
}
