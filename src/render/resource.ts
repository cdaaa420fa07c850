import type { KubeObject } from "../core/object.js";

/**
 * An object while a kustomization builds, with what kustomize tracks beside it: the names it had
 * (so references to an old name can be rewritten), the file it came from, and how a generated
 * object merges with another of the same name.
 */
export interface Resource {
  obj: KubeObject;
  /** The file the object came from (for messages). */
  file: string;
  /** Every name and namespace (and kind) the object has had, oldest first, the current one last: kustomize's previous ids. */
  names: Array<{ name: string; namespace: string | undefined; kind?: string }>;
  /** A ConfigMap or Secret from a generator that gets a content hash suffix at the end. */
  hashSuffix?: boolean;
  /** A generator's `behavior`: create, merge or replace. */
  behavior?: "create" | "merge" | "replace";
  /** The kustomization that made a generated object, for `behavior` errors. */
  generatedBy?: string;
  /** The metadata.name of the built-in generator config that made it (kustomize's origin `configuredBy.name`). */
  generatorConfigName?: string;
  /** Prefixes and suffixes added, innermost first: kustomize rewrites a reference only between objects that got the same ones. */
  affixes: string[];
  /** The transformers each kustomization level configured while the object was in it (for `buildMetadata: [transformerAnnotations]`). */
  transformations?: TransformationStep[][];
}

/** One transformer a kustomization configured: kustomize's `configuredIn` and `configuredBy`. */
export interface TransformationStep {
  file: string;
  apiVersion: string;
  kind: string;
  name?: string;
  namespace?: string;
}

export function newResource(obj: KubeObject, file: string): Resource {
  return {
    obj,
    file,
    names: [{ name: obj.metadata?.name ?? "", namespace: obj.metadata?.namespace, kind: obj.kind }],
    affixes: [],
  };
}

/**
 * Records the object's current name and namespace after a transformer changed them. With `stored`,
 * the transformer is one that kustomize has store the object's id whether it changed it or not (the
 * namespace transformer, JSON 6902 patches, patches allowed to rename): the id is then a previous id
 * even when unchanged, so name references may bind to the object by that name.
 */
export function recordName(res: Resource, stored = false): void {
  const last = res.names[res.names.length - 1];
  const name = res.obj.metadata.name ?? "";
  const namespace = res.obj.metadata.namespace;
  const kind = res.obj.kind;
  if (stored || !last || last.name !== name || last.namespace !== namespace || (last.kind ?? kind) !== kind)
    res.names.push({ name, namespace, kind });
}

/** Whether the object had `name` before its current id (kustomize's previous ids). */
export function hadName(res: Resource, name: string): boolean {
  return res.names.slice(0, -1).some((n) => n.name === name);
}

/** The name the object had when it was first loaded. */
export function originalName(res: Resource): string {
  return res.names[0]!.name;
}

export function originalNamespace(res: Resource): string | undefined {
  return res.names[0]!.namespace;
}

/** `Kind/namespace/name` for messages. */
export function describeResource(res: Resource): string {
  const { namespace, name } = res.obj.metadata;
  return namespace ? `${res.obj.kind}/${namespace}/${name ?? ""}` : `${res.obj.kind}/${name ?? ""}`;
}
