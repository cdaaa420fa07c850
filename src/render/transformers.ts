import { InvalidInputError } from "../core/errors.js";
import { isPlainObject } from "../core/object.js";
import { isClusterScoped, specMatches, type FieldSpec } from "./field-specs.js";
import { recordName, type Resource } from "./resource.js";
import type { TransformerConfig } from "./transformer-config.js";
import { visitPath } from "./walk.js";

/** Sets a string map (labels, annotations) at every field spec that matches, creating it where allowed. */
function setPairs(res: Resource, specs: readonly FieldSpec[], pairs: Record<string, string>): void {
  for (const fs of specs) {
    if (!specMatches(fs, res.obj)) continue;
    visitPath(
      res.obj,
      fs.path,
      (_holder, _key, value) => {
        if (value === undefined) return { ...pairs };
        if (!isPlainObject(value)) return undefined;
        Object.assign(value, pairs);
        return undefined;
      },
      fs.create ?? false,
    );
  }
}

const METADATA_LABELS: FieldSpec = { path: ["metadata", "labels"], create: true };
const METADATA_ANNOTATIONS: FieldSpec = { path: ["metadata", "annotations"], create: true };

/** commonLabels, and `labels` entries with their includeSelectors / includeTemplates / fields. */
export function applyLabels(
  resources: readonly Resource[],
  pairs: Record<string, string>,
  how: { selectors: boolean; templates: boolean; fields?: FieldSpec[]; configured?: boolean },
  config: TransformerConfig,
): void {
  if (Object.keys(pairs).length === 0) return;
  const specs: FieldSpec[] = [METADATA_LABELS];
  if (how.selectors) specs.push(...config.commonLabels);
  else if (how.templates) specs.push(...config.templateLabels);
  if (how.fields) specs.push(...how.fields);
  // A `labels` entry also goes where a configurations file's `labels` specs say.
  if (how.configured) specs.push(...config.labels);
  for (const res of resources) setPairs(res, specs, pairs);
}

/** Labels or annotations exactly at the given field specs (a built-in transformer config's own `fieldSpecs`). */
export function applyPairsAt(
  resources: readonly Resource[],
  pairs: Record<string, string>,
  specs: readonly FieldSpec[],
): void {
  if (Object.keys(pairs).length === 0) return;
  for (const res of resources) setPairs(res, specs, pairs);
}

/** commonAnnotations: metadata and pod/job template annotations. */
export function applyAnnotations(
  resources: readonly Resource[],
  pairs: Record<string, string>,
  config: TransformerConfig,
): void {
  if (Object.keys(pairs).length === 0) return;
  const specs = [METADATA_ANNOTATIONS, ...config.commonAnnotations];
  for (const res of resources) setPairs(res, specs, pairs);
}

/**
 * The namespace transformer: every namespaced object moves to `namespace`; a Namespace object is
 * renamed to it; the configured field specs (by default APIService and CRD conversion services) follow.
 */
export function applyNamespace(
  resources: readonly Resource[],
  namespace: string,
  config: TransformerConfig,
  clusterScoped: ReadonlySet<string>,
  options: NamespaceOptions = {},
): void {
  for (const res of resources) {
    moveToNamespace(res, namespace, config, clusterScoped, options);
    // kustomize stores every object's id here, moved or not, so name references can bind to it.
    recordName(res, true);
  }
}

function moveToNamespace(
  res: Resource,
  namespace: string,
  config: TransformerConfig,
  clusterScoped: ReadonlySet<string>,
  options: NamespaceOptions,
): void {
  const obj = res.obj;
  if ((obj.kind === "RoleBinding" || obj.kind === "ClusterRoleBinding") && Array.isArray(obj.subjects))
    setSubjectNamespaces(obj.subjects, namespace, options);
  if (options.unsetOnly && typeof obj.metadata.namespace === "string" && obj.metadata.namespace !== "") return;
  if (obj.kind === "Namespace" && (obj.apiVersion === "v1" || obj.apiVersion === undefined)) {
    if (options.renameNamespaces !== false) obj.metadata.name = namespace;
    return;
  }
  if (isClusterScoped(obj, clusterScoped)) {
    // APIService and CRD conversion service namespaces are default field specs (config.namespace);
    // a webhook's service namespace follows its Service through name references, not from here.
    setNamespaceFields(obj, namespace, config, options);
    return;
  }
  obj.metadata.namespace = namespace;
  setNamespaceFields(obj, namespace, config, options);
}

/** The namespace at the configured field specs (beyond metadata.namespace): scalar fields only, as kustomize requires. */
function setNamespaceFields(
  obj: Resource["obj"],
  namespace: string,
  config: TransformerConfig,
  options: NamespaceOptions,
): void {
  for (const fs of config.namespace) {
    if (!specMatches(fs, obj)) continue;
    visitPath(
      obj,
      fs.path,
      (_h, _k, value) => {
        if (value !== undefined && value !== null && typeof value === "object") {
          throw new InvalidInputError(
            `namespace field specs must name a scalar field, not a ${Array.isArray(value) ? "list" : "map"}`,
            {
              ...(options.file ? { file: options.file } : {}),
              object: `${obj.kind}/${obj.metadata.name ?? ""}`,
              field: fs.path.join("."),
            },
          );
        }
        if (options.unsetOnly && typeof value === "string" && value !== "") return undefined;
        return namespace;
      },
      fs.create ?? false,
    );
  }
}

/** NamespaceTransformer's `unsetOnly` and `setRoleBindingSubjects` (kustomize's default: `defaultOnly`). */
export interface NamespaceOptions {
  unsetOnly?: boolean;
  /** Rename Namespace objects (v1) to the namespace: kustomize's default field specs do; custom ones only with a metadata/name spec. */
  renameNamespaces?: boolean;
  /** The file that configured the transformer, for errors. */
  file?: string;
  setRoleBindingSubjects?: "defaultOnly" | "allServiceAccounts" | "none";
}

/**
 * kustomize's role binding rule: ServiceAccount subjects named `default` (or, with
 * `allServiceAccounts`, every ServiceAccount subject) move to the new namespace; with `unsetOnly`
 * only those with no namespace yet.
 */
function setSubjectNamespaces(subjects: unknown[], namespace: string, options: NamespaceOptions): void {
  const mode = options.setRoleBindingSubjects ?? "defaultOnly";
  if (mode === "none") return;
  for (const subject of subjects) {
    if (!isPlainObject(subject) || subject.kind !== "ServiceAccount") continue;
    if (mode === "defaultOnly" && subject.name !== "default") continue;
    if (options.unsetOnly && typeof subject.namespace === "string" && subject.namespace !== "") continue;
    subject.namespace = namespace;
  }
}

const NO_PREFIX_KINDS = new Set(["CustomResourceDefinition", "APIService", "Namespace"]);

/** namePrefix / nameSuffix on metadata.name (not on CRDs, APIServices and Namespaces). */
export function applyPrefixSuffix(
  resources: readonly Resource[],
  prefix: string,
  suffix: string,
  config: TransformerConfig,
  onlyNamedBy?: readonly FieldSpec[],
): void {
  if (!prefix && !suffix) return;
  for (const res of resources) {
    const obj = res.obj;
    if (NO_PREFIX_KINDS.has(obj.kind)) continue;
    // A PrefixSuffixTransformer with its own fieldSpecs renames only the objects they select.
    if (onlyNamedBy && !onlyNamedBy.some((fs) => specMatches(fs, obj))) continue;
    obj.metadata.name = `${prefix}${obj.metadata.name ?? ""}${suffix}`;
    res.affixes.push(`${prefix}\u0000${suffix}`);
    for (const fs of config.namePrefix) {
      if (specMatches(fs, obj) && !(fs.path.length === 2 && fs.path[0] === "metadata" && fs.path[1] === "name")) {
        visitPath(obj, fs.path, (_h, _k, v) => (typeof v === "string" ? `${prefix}${v}${suffix}` : undefined));
      }
    }
    recordName(res);
  }
}

/** Splits an image reference into name, tag and digest, as kustomize does. */
export function splitImage(image: string): { name: string; tag?: string; digest?: string } {
  let rest = image;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  const colon = rest.lastIndexOf(":");
  const slash = rest.lastIndexOf("/");
  let tag: string | undefined;
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  return { name: rest, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** The `images` transformer: new names, tags, digests and tag suffixes for matching images. */
export function applyImages(
  resources: readonly Resource[],
  images: ReadonlyArray<{ name: string; newName?: string; newTag?: string; digest?: string; tagSuffix?: string }>,
  config: TransformerConfig,
): void {
  if (images.length === 0) return;
  const byName = new Map(images.map((i) => [i.name, i]));
  const update = (value: unknown): unknown => {
    if (typeof value !== "string") return undefined;
    const parts = splitImage(value);
    const rule = byName.get(parts.name) ?? byName.get(value);
    if (!rule) return undefined;
    let { name, tag, digest } = parts;
    if (rule.newName) name = rule.newName;
    if (rule.newTag !== undefined && rule.newTag !== "") {
      tag = String(rule.newTag);
      digest = undefined;
    }
    if (rule.digest) {
      digest = rule.digest;
      // kustomize writes `name:newTag@digest` when a rule gives both.
      tag = rule.newTag !== undefined && rule.newTag !== "" ? String(rule.newTag) : undefined;
    }
    if (rule.tagSuffix) tag = `${tag ?? ""}${rule.tagSuffix}`;
    return `${name}${tag !== undefined ? `:${tag}` : ""}${digest ? `@${digest}` : ""}`;
  };
  for (const res of resources) {
    for (const fs of config.images)
      if (specMatches(fs, res.obj)) visitPath(res.obj, fs.path, (_h, _k, v) => update(v), false);
  }
}

/** The `replicas` transformer, by any name the object has had. */
export function applyReplicas(
  resources: readonly Resource[],
  replicas: ReadonlyArray<{ name: string; count: number }>,
  config: TransformerConfig,
  file?: string,
): void {
  for (const { name, count } of replicas) {
    let found = false;
    for (const res of resources) {
      if (!res.names.some((n) => n.name === name)) continue;
      for (const fs of config.replicas) {
        if (!specMatches(fs, res.obj)) continue;
        found = true;
        visitPath(res.obj, fs.path, () => count, fs.create ?? false);
      }
    }
    // kustomize refuses a replicas entry that matches no object of a kind with a replicas field spec.
    if (!found) {
      const kinds = [...new Set(config.replicas.map((fs) => fs.kind ?? "*"))].join(", ");
      throw new InvalidInputError(`no object named '${name}' of a kind with a replicas field (${kinds})`, {
        ...(file ? { file } : {}),
        field: "replicas",
      });
    }
  }
}

/** Rejects two objects with one identity (kind, group, namespace, name). */
export function assertUnique(resources: readonly Resource[], file: string): void {
  const seen = new Map<string, Resource>();
  for (const res of resources) {
    const { apiVersion, kind, metadata } = res.obj;
    // kustomize's ResId: group and version count (autoscaling/v1 and autoscaling/v2 may share a
    // name), and no namespace is the same as `default`.
    const namespace = metadata.namespace === undefined || metadata.namespace === "" ? "default" : metadata.namespace;
    const id = `${apiVersion}|${kind}|${namespace}|${metadata.name ?? ""}`;
    const other = seen.get(id);
    if (other) {
      throw new InvalidInputError(
        `may not add resource with an already registered id: ${kind}/${metadata.namespace ? `${metadata.namespace}/` : ""}${metadata.name ?? ""} (from ${res.file} and ${other.file})`,
        { file, field: "resources" },
      );
    }
    seen.set(id, res);
  }
}
