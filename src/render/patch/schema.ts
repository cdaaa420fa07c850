import { BUILTIN_DEFINITIONS, BUILTIN_KINDS } from "./builtin-openapi.js";
import { compileOpenApi, ruleAt, type CompiledSchema } from "./openapi-schema.js";

/** A kind's identity as OpenAPI's `x-kubernetes-group-version-kind` names it (`group` is "" for the core group). */
export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

/** How one list merges in a strategic merge patch. */
export interface ListMerge {
  strategy: "merge" | "replace" | "retainKeys";
  /** The (first) merge key; absent for a list of scalars merged as a set. */
  key?: string;
  /** All merge keys, when the schema declares several (`x-kubernetes-list-map-keys`, e.g. containerPort + protocol). */
  keys?: string[];
}

/** The merge keys of lists, by kind and field path. */
export interface MergeSchema {
  /** How the list at `path` (field names from the object root, e.g. ["spec","template","spec","containers"]) of kind gvk merges. undefined = atomic replace (kustomize's default for unknown lists). */
  listMergeKey(gvk: GroupVersionKind, path: string[]): ListMerge | undefined;
  /** Whether the schema describes the kind at all; kustomize looks up the kind of an embedded object (one with its own apiVersion and kind) only inside objects it has no schema for. */
  knowsKind?(gvk: GroupVersionKind): boolean;
}

function gvkKey(gvk: GroupVersionKind): string {
  return `${gvk.group}/${gvk.version}/${gvk.kind}`;
}

function toListMerge(strategy: string | undefined, keys: readonly string[] | undefined): ListMerge | undefined {
  if (strategy === undefined) return undefined;
  const parts = strategy.split(",");
  const kind = parts.includes("merge") ? "merge" : parts.includes("retainKeys") ? "retainKeys" : "replace";
  const result: ListMerge = { strategy: kind };
  if (keys && keys.length > 0) {
    result.key = keys[0]!;
    result.keys = [...keys];
  }
  return result;
}

/** A MergeSchema over compiled definitions; answers are cached per kind and path. */
export function schemaFrom(compiled: CompiledSchema): MergeSchema {
  const cache = new Map<string, ListMerge | undefined>();
  return {
    listMergeKey(gvk, path) {
      const root = compiled.kinds[gvkKey(gvk)];
      if (!root) return undefined;
      const cacheKey = `${root}|${path.join(".")}`;
      if (cache.has(cacheKey)) return cache.get(cacheKey);
      const rule = ruleAt(compiled.definitions, root, path);
      const answer = toListMerge(rule?.strategy, rule?.keys);
      cache.set(cacheKey, answer);
      return answer;
    },
    knowsKind(gvk) {
      return gvkKey(gvk) in compiled.kinds;
    },
  };
}

/**
 * The patch strategies and merge keys of every built-in kind kustomize v5.5 knows (its embedded
 * Kubernetes v1.21 OpenAPI): containers, initContainers, ephemeralContainers, env, volumes and
 * imagePullSecrets by name; container ports by containerPort+protocol, Service ports by
 * port+protocol; volumeMounts by mountPath; hostAliases by ip; conditions by type; finalizers as a
 * set; ownerReferences by uid; webhooks by name; and so on. Lists it does not name (tolerations,
 * args, rules, …) are replaced whole.
 */
export const builtinSchema: MergeSchema = schemaFrom({ kinds: BUILTIN_KINDS, definitions: BUILTIN_DEFINITIONS });

/**
 * The schema of a kustomization's `openapi: {path: schema.json}`. As in kustomize, the document
 * replaces the schema in effect rather than adding to it: kinds it does not define have no merge
 * keys, so their lists are replaced (a document meant to extend the built-in kinds must contain
 * their definitions too). `base` is the schema it replaces.
 */
export function withOpenApi(base: MergeSchema, openapiDoc: unknown, file?: string): MergeSchema {
  void base; // kept for the call shape: kustomize does not consult the replaced schema
  return schemaFrom(compileOpenApi(openapiDoc, file));
}
