import { InvalidInputError } from "../core/errors.js";
import { groupOf } from "../core/object.js";
import { getAtPath, splitFieldPath } from "./field-path.js";
import { specMatches } from "./field-specs.js";
import type { Resource } from "./resource.js";
import type { TransformerConfig } from "./transformer-config.js";
import { visitPath } from "./walk.js";

export interface VarDefinition {
  name: string;
  objref: Record<string, string>;
  fieldref?: { fieldpath?: string };
  file: string;
  /** The object the var names, found among its own kustomization's resources when it was declared. */
  target?: Resource;
}

/** The resources a var's objref names: by kind, any name the object has had, group and namespace when given. */
function objrefMatches(resources: readonly Resource[], objref: Record<string, string>): Resource[] {
  return resources.filter(
    (r) =>
      r.obj.kind === objref.kind &&
      r.names.some((n) => n.name === objref.name) &&
      (!objref.apiVersion || groupOf(objref.apiVersion) === groupOf(r.obj.apiVersion)) &&
      (!objref.namespace || r.names.some((n) => (n.namespace ?? "") === objref.namespace)),
  );
}

/**
 * Binds a kustomization's vars to their objects among that kustomization's resources, as kustomize
 * does when it merges vars: two kustomizations may each name their own Service/elasticsearch.
 */
export function bindVars(
  vars: readonly Omit<VarDefinition, "target">[],
  resources: readonly Resource[],
): VarDefinition[] {
  return vars.map((v) => {
    const matched = objrefMatches(resources, v.objref);
    if (matched.length > 1) {
      throw new InvalidInputError(
        `var '${v.name}' matches ${matched.length} objects (${v.objref.kind}/${v.objref.name}); give objref a namespace or apiVersion`,
        { file: v.file, field: `vars.${v.name}` },
      );
    }
    return matched.length === 1 ? { ...v, target: matched[0]! } : { ...v };
  });
}

/**
 * Expands `$(NAME)` as kustomize's refvar does, in one left-to-right scan: `$$` is an escaped `$`
 * (so `$$(NAME)` stays `$(NAME)`), a name runs to the first `)`, an unknown name and an unclosed
 * `$(` stay as written.
 */
export function expandVars(input: string, values: ReadonlyMap<string, string>): string {
  let out = "";
  let i = 0;
  while (i < input.length) {
    const dollar = input.indexOf("$", i);
    if (dollar < 0 || dollar === input.length - 1) break;
    out += input.slice(i, dollar);
    const next = input[dollar + 1]!;
    const close = next === "(" ? input.indexOf(")", dollar + 2) : -1;
    if (next === "$") {
      out += "$";
      i = dollar + 2;
    } else if (close >= 0) {
      const name = input.slice(dollar + 2, close);
      out += values.get(name) ?? `$(${name})`;
      i = close + 1;
    } else {
      out += `$${next}`;
      i = dollar + 2;
    }
  }
  return out + input.slice(i);
}

/**
 * Legacy `vars`: `$(NAME)` in the var-reference fields is replaced by a field of the object the
 * var names (by default its final name). References to unknown vars stay as they are.
 */
export function resolveVars(
  resources: readonly Resource[],
  vars: readonly VarDefinition[],
  config: TransformerConfig,
): void {
  if (vars.length === 0) return;
  const values = new Map<string, string>();
  // A field that is exactly one `$(NAME)` takes the var's value with its type (a port stays a number).
  const typed = new Map<string, unknown>();
  for (const v of vars) {
    const where = { file: v.file, field: `vars.${v.name}` };
    if (values.has(v.name)) throw new InvalidInputError(`var '${v.name}' is defined twice`, where);
    const target = v.target && resources.includes(v.target) ? [v.target] : objrefMatches(resources, v.objref);
    if (target.length === 0)
      throw new InvalidInputError(
        `var '${v.name}' refers to ${v.objref.kind}/${v.objref.name}, which is not among the resources`,
        where,
      );
    if (target.length > 1)
      throw new InvalidInputError(`var '${v.name}' matches more than one ${v.objref.kind}/${v.objref.name}`, where);
    const fieldPath = v.fieldref?.fieldpath ?? "metadata.name";
    const found = getAtPath(target[0]!.obj, splitFieldPath(fieldPath));
    if (found.length === 0 || found[0] === undefined || found[0] === null)
      throw new InvalidInputError(`field '${fieldPath}' of ${v.objref.kind}/${v.objref.name} is not set`, where);
    values.set(v.name, typeof found[0] === "string" ? found[0] : JSON.stringify(found[0]));
    typed.set(v.name, found[0]);
  }
  const replaceString = (s: string): string => expandVars(s, values);
  const replace = (s: string): unknown => {
    const whole = /^\$\(([^)]*)\)$/.exec(s);
    return whole && typed.has(whole[1]!) ? typed.get(whole[1]!) : replaceString(s);
  };
  for (const res of resources) {
    for (const fs of config.varReference) {
      if (!specMatches(fs, res.obj)) continue;
      visitPath(res.obj, fs.path, (_h, _k, value) => {
        if (typeof value === "string") return replace(value);
        if (Array.isArray(value)) return value.map((x) => (typeof x === "string" ? replace(x) : x));
        if (value && typeof value === "object") {
          for (const [k, x] of Object.entries(value as Record<string, unknown>))
            if (typeof x === "string") (value as Record<string, unknown>)[k] = replaceString(x);
        }
        return undefined;
      });
    }
  }
}
