import { InvalidInputError } from "../core/errors.js";
import { isPlainObject } from "../core/object.js";
import type { PatchTarget } from "./kustomization-file.js";
import { getAtPath, setAtPath, splitFieldPath } from "./field-path.js";
import { compileSelector } from "./selector.js";
import { describeResource, type Resource } from "./resource.js";

interface ReplacementOptions {
  delimiter?: string;
  index?: number;
  create?: boolean;
}

/**
 * kustomize `replacements`: copy a field of one object (the source) into fields of others (the
 * targets), optionally as one part of a delimited string.
 */
export function applyReplacements(resources: readonly Resource[], replacements: ReadonlyArray<Record<string, unknown>>, file: string): void {
  replacements.forEach((r, i) => {
    const where = { file, field: `replacements[${i}]` };
    const source = (isPlainObject(r.source) ? r.source : undefined) as (PatchTarget & { fieldPath?: string; options?: ReplacementOptions }) | undefined;
    if (!source) throw new InvalidInputError("needs a source", where);
    const matches = resources.filter(anyName(compileSelector(source, where)));
    if (matches.length === 0) throw new InvalidInputError(`nothing matches the source selector ${JSON.stringify(stripUndefined(source))}`, { ...where, field: `${where.field}.source` });
    if (matches.length > 1) throw new InvalidInputError(`more than one object matches the source selector: ${matches.map(describeResource).join(", ")}`, { ...where, field: `${where.field}.source` });
    const fieldPath = source.fieldPath ?? "metadata.name";
    const found = getAtPath(matches[0]!.obj, splitFieldPath(fieldPath));
    if (found.length === 0) throw new InvalidInputError(`source field '${fieldPath}' is not set on ${describeResource(matches[0]!)}`, { ...where, field: `${where.field}.source.fieldPath` });
    let value = found[0];
    if (source.options?.delimiter !== undefined && typeof value === "string") {
      const parts = value.split(source.options.delimiter);
      value = parts[source.options.index ?? 0] ?? "";
    }
    const targets = Array.isArray(r.targets) ? r.targets : [];
    targets.forEach((t, ti) => {
      const tw = { ...where, field: `${where.field}.targets[${ti}]` };
      if (!isPlainObject(t) || !isPlainObject(t.select)) throw new InvalidInputError("needs a select", tw);
      const select = anyName(compileSelector(t.select as PatchTarget, tw));
      const rejects = (Array.isArray(t.reject) ? t.reject : []).filter(isPlainObject).map((x) => anyName(compileSelector(x as PatchTarget, tw)));
      const options = (isPlainObject(t.options) ? t.options : {}) as ReplacementOptions;
      const paths = Array.isArray(t.fieldPaths) ? t.fieldPaths.map(String) : ["metadata.name"];
      for (const res of resources) {
        if (!select(res) || rejects.some((rej) => rej(res))) continue;
        for (const p of paths) {
          const count = setAtPath(
            res.obj,
            splitFieldPath(p),
            (old) => {
              if (options.delimiter === undefined) return value;
              const parts = typeof old === "string" ? old.split(options.delimiter) : [];
              const index = options.index ?? 0;
              if (index < 0) return [String(value), ...parts].join(options.delimiter);
              if (index >= parts.length) return [...parts, String(value)].join(options.delimiter);
              parts[index] = String(value);
              return parts.join(options.delimiter);
            },
            options.create ?? false,
          );
          if (count === 0) throw new InvalidInputError(`unable to find field "${p}" in replacement target ${describeResource(res)}`, tw);
        }
      }
    });
  });
}

function stripUndefined(o: object): object {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/**
 * kustomize selects replacement sources and targets by any id the object has had (before a
 * prefix, suffix, namespace or hash suffix changed it), not only by its current name.
 */
function anyName(select: (res: Resource) => boolean): (res: Resource) => boolean {
  return (res) =>
    select(res) ||
    res.names.some((n) => select({ ...res, obj: { ...res.obj, metadata: { ...res.obj.metadata, name: n.name, namespace: n.namespace } } }));
}
