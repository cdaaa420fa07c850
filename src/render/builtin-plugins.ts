import { InvalidInputError, NotFoundError, RefusedError } from "../core/errors.js";
import { joinInTree, type FileTree } from "../core/file-tree.js";
import { isPlainObject, type KubeObject } from "../core/object.js";
import { parseYamlDocuments } from "../core/yaml.js";
import type { BuildState } from "./build.js";
import { fieldSpecFromConfig, type FieldSpec } from "./field-specs.js";
import { generate } from "./generators.js";
import type { GeneratorArgs, PatchTarget } from "./kustomization-file.js";
import { applyPatches } from "./patches.js";
import { applyReplacements } from "./replacements.js";
import { newResource, recordName, type Resource } from "./resource.js";
import { contentHash } from "./hash.js";
import { cloneConfig } from "./transformer-config.js";
import { applyValueAdd } from "./value-add.js";
import {
  applyAnnotations,
  applyImages,
  applyLabels,
  applyPairsAt,
  applyNamespace,
  applyPrefixSuffix,
  applyReplicas,
  assertUnique,
  type NamespaceOptions,
} from "./transformers.js";

interface PluginContext {
  tree: FileTree;
  dir: string;
  file: string;
  state: BuildState;
  generator: boolean;
}

function specsOf(doc: Record<string, unknown>): FieldSpec[] | undefined {
  return Array.isArray(doc.fieldSpecs) ? doc.fieldSpecs.filter(isPlainObject).map(fieldSpecFromConfig) : undefined;
}

/**
 * Runs a `generators:`/`transformers:` entry that configures one of kustomize's built-in plugins
 * (`apiVersion: builtin`, kinds such as PrefixSuffixTransformer, LabelTransformer,
 * ConfigMapGenerator). Plugins that would run an executable or a container are refused.
 */
export function applyBuiltinPlugin(
  raw: Record<string, unknown>,
  source: string,
  resources: Resource[],
  ctx: PluginContext,
): { resources: Resource[]; generated: Resource[] } {
  if (!isPlainObject(raw)) throw new InvalidInputError("a plugin configuration must be a YAML map", { file: source });
  const doc = withConfigKeys(raw);
  const kind = String(doc.kind ?? "");
  const annotations = (
    isPlainObject(doc.metadata) && isPlainObject(doc.metadata.annotations) ? doc.metadata.annotations : {}
  ) as Record<string, unknown>;
  if (annotations["config.kubernetes.io/function"] !== undefined || doc.apiVersion !== "builtin") {
    throw new RefusedError(
      `plugin ${String(doc.apiVersion)}/${kind} is not one of kustomize's built-in plugins; plugins that run an executable or a container are not supported`,
      { file: source, field: "apiVersion" },
    );
  }
  const where = {
    file: source,
    object: `${kind}/${String((doc.metadata as Record<string, unknown> | undefined)?.name ?? "")}`,
  };
  const config = cloneConfig(ctx.state.config);
  const custom = specsOf(doc);
  const none = { resources, generated: [] as Resource[] };
  switch (kind) {
    case "ConfigMapGenerator":
    case "SecretGenerator": {
      // The generator's own name/namespace fields, else the config's metadata (kustomize's Config).
      const meta = (doc.metadata ?? {}) as Record<string, unknown>;
      const args = { ...doc, name: doc.name || meta.name, namespace: doc.namespace || meta.namespace } as GeneratorArgs;
      const made = generate(kind === "ConfigMapGenerator" ? "ConfigMap" : "Secret", args, 0, {
        tree: ctx.tree,
        dir: ctx.dir,
        file: source,
      });
      if (typeof meta.name === "string") made.generatorConfigName = meta.name;
      return { resources, generated: [made] };
    }
    case "PrefixSuffixTransformer":
    case "PrefixTransformer":
    case "SuffixTransformer": {
      if (custom) config.namePrefix = custom;
      const nameSpecs = custom?.filter((s) => s.path.join("/") === "metadata/name");
      applyPrefixSuffix(resources, String(doc.prefix ?? ""), String(doc.suffix ?? ""), config, nameSpecs);
      return none;
    }
    case "LabelTransformer": {
      const labels = stringValues(doc.labels);
      if (custom) applyPairsAt(resources, labels, custom);
      else applyLabels(resources, labels, { selectors: true, templates: true }, config);
      return none;
    }
    case "AnnotationsTransformer": {
      const annotations = stringValues(doc.annotations);
      if (custom) applyPairsAt(resources, annotations, custom);
      else applyAnnotations(resources, annotations, config);
      return none;
    }
    case "NamespaceTransformer": {
      const ns = (doc.metadata as Record<string, unknown> | undefined)?.namespace;
      if (typeof ns !== "string")
        throw new InvalidInputError("needs metadata.namespace", { ...where, field: "metadata.namespace" });
      const subjects = doc.setRoleBindingSubjects;
      const options: NamespaceOptions = {
        unsetOnly: doc.unsetOnly === true,
        file: source,
        ...(subjects === "defaultOnly" || subjects === "allServiceAccounts" || subjects === "none"
          ? { setRoleBindingSubjects: subjects }
          : {}),
      };
      if (custom) {
        // metadata/namespace is always set; a metadata/name spec is what renames Namespace objects (kustomize's namespace filter).
        const isPath = (spec: FieldSpec, path: string) => spec.path.join("/") === path;
        options.renameNamespaces = custom.some(
          (spec) => isPath(spec, "metadata/name") && (spec.kind === undefined || spec.kind === "Namespace"),
        );
        // RoleBinding subjects follow setRoleBindingSubjects, not field specs (kustomize drops those specs).
        const subjectSpec = (spec: FieldSpec) =>
          isPath(spec, "subjects/namespace") && (spec.kind === "RoleBinding" || spec.kind === "ClusterRoleBinding");
        config.namespace = custom.filter(
          (spec) => !isPath(spec, "metadata/namespace") && !isPath(spec, "metadata/name") && !subjectSpec(spec),
        );
      }
      applyNamespace(resources, ns, config, ctx.state.clusterScoped, options);
      assertUnique(resources, source);
      return none;
    }
    case "ImageTagTransformer": {
      if (custom) config.images = custom;
      const tag = isPlainObject(doc.imageTag)
        ? (withConfigKeys(doc.imageTag, IMAGE_KEYS) as { name: string })
        : undefined;
      if (!tag?.name) throw new InvalidInputError("needs imageTag.name", { ...where, field: "imageTag" });
      applyImages(resources, [tag], config);
      return none;
    }
    case "ReplicaCountTransformer": {
      if (custom) config.replicas = custom;
      const replica = doc.replica as { name: string; count: number } | undefined;
      if (!replica?.name)
        throw new InvalidInputError("needs replica.name and replica.count", { ...where, field: "replica" });
      applyReplicas(resources, [replica], config, source);
      return none;
    }
    case "PatchTransformer": {
      const entry = {
        ...(typeof doc.path === "string" ? { path: doc.path } : {}),
        ...(typeof doc.patch === "string" ? { patch: doc.patch } : {}),
        ...(isPlainObject(doc.target) ? { target: doc.target as PatchTarget } : {}),
      };
      return {
        resources: applyPatches(resources, [entry], kind, {
          tree: ctx.tree,
          dir: ctx.dir,
          file: source,
          schema: ctx.state.schema,
        }),
        generated: [],
      };
    }
    case "PatchStrategicMergeTransformer": {
      const entries = [
        ...(Array.isArray(doc.paths) ? doc.paths.map((p) => ({ path: String(p) })) : []),
        ...(typeof doc.patches === "string" && doc.patches.trim() !== "" ? [{ patch: doc.patches }] : []),
      ];
      if (entries.length === 0)
        throw new InvalidInputError("needs paths or patches (both are empty)", { ...where, field: "paths" });
      return {
        resources: applyPatches(resources, entries, kind, {
          tree: ctx.tree,
          dir: ctx.dir,
          file: source,
          schema: ctx.state.schema,
        }),
        generated: [],
      };
    }
    case "PatchJson6902Transformer": {
      const entry = {
        ...(typeof doc.path === "string" ? { path: doc.path } : {}),
        ...(typeof doc.jsonOp === "string" ? { patch: doc.jsonOp } : {}),
        ...(isPlainObject(doc.target) ? { target: doc.target as PatchTarget } : {}),
      };
      return {
        resources: applyPatches(
          resources,
          [entry],
          kind,
          { tree: ctx.tree, dir: ctx.dir, file: source, schema: ctx.state.schema },
          true,
        ),
        generated: [],
      };
    }
    case "ReplacementTransformer": {
      const list = (Array.isArray(doc.replacements) ? doc.replacements : []) as Record<string, unknown>[];
      list.forEach((r, i) => {
        if (!isPlainObject(r) || typeof r.path !== "string") return applyReplacements(resources, [r], source, i);
        // An entry `path: FILE` holds replacements of its own, as in a kustomization's `replacements`.
        const path = joinInTree(ctx.dir, r.path, { file: source, field: `replacements[${i}].path` });
        if (ctx.tree.kind(path) !== "file")
          throw new NotFoundError(`replacements file '${r.path}' does not exist`, {
            file: source,
            field: `replacements[${i}].path`,
          });
        const docs = parseYamlDocuments(ctx.tree.readText(path), path).map((d) => d.value);
        applyReplacements(
          resources,
          (docs.length === 1 && Array.isArray(docs[0]) ? docs[0] : docs) as Record<string, unknown>[],
          path,
        );
      });
      return none;
    }
    case "ValueAddTransformer":
      applyValueAdd(resources, doc, {
        tree: ctx.tree,
        dir: ctx.dir,
        source,
        where,
        setNamespace: (selected, ns) =>
          applyNamespace(selected, ns, { ...config, namespace: [] }, ctx.state.clusterScoped, { file: source }),
      });
      return none;
    case "HashTransformer":
      // kustomize appends the content hash to generated ConfigMaps and Secrets here, and (the mark
      // staying) once more when the build finishes: kubectl prints `name-<hash>-<hash>`.
      for (const res of resources) {
        if (!res.hashSuffix) continue;
        res.obj.metadata.name = `${res.obj.metadata.name ?? ""}-${contentHash(res.obj)}`;
        recordName(res);
      }
      return none;
    case "IAMPolicyGenerator":
      if (!ctx.generator)
        throw new InvalidInputError("IAMPolicyGenerator is a generator: list it under generators", where);
      return { resources, generated: [iamPolicyServiceAccount(doc, where)] };
    default:
      throw new RefusedError(`built-in plugin kind '${kind}' is not supported`, { ...where, field: "kind" });
  }
}

/** The fields of the built-in plugins' configs, as kustomize's Go structs name them. */
const CONFIG_KEYS = [
  "apiVersion",
  "kind",
  "metadata",
  "fieldSpecs",
  "name",
  "namespace",
  "behavior",
  "literals",
  "files",
  "envs",
  "env",
  "options",
  "type",
  "immutable",
  "prefix",
  "suffix",
  "labels",
  "annotations",
  "unsetOnly",
  "setRoleBindingSubjects",
  "imageTag",
  "replica",
  "path",
  "patch",
  "paths",
  "patches",
  "target",
  "jsonOp",
  "replacements",
  "cloud",
  "kubernetesService",
  "serviceAccount",
];
const IMAGE_KEYS = ["name", "newName", "newTag", "digest", "tagSuffix"];

/**
 * kustomize decodes a plugin config into a Go struct through JSON, whose field matching ignores
 * case (`Path:` sets `path`): the config with its keys spelled as the struct's fields.
 */
function withConfigKeys(doc: Record<string, unknown>, known: readonly string[] = CONFIG_KEYS): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(doc)) {
    const canonical = known.includes(key) ? key : (known.find((k) => k.toLowerCase() === key.toLowerCase()) ?? key);
    if (!(canonical in out) || canonical === key) out[canonical] = value;
  }
  return out;
}

/** IAMPolicyGenerator (cloud gke): the Kubernetes ServiceAccount bound to a Google service account. */
function iamPolicyServiceAccount(doc: Record<string, unknown>, where: { file: string; object: string }): Resource {
  if (doc.cloud !== "gke")
    throw new InvalidInputError(`cloud provider ${String(doc.cloud)} not supported yet`, { ...where, field: "cloud" });
  const k8s = (isPlainObject(doc.kubernetesService) ? doc.kubernetesService : {}) as Record<string, unknown>;
  const gsa = (isPlainObject(doc.serviceAccount) ? doc.serviceAccount : {}) as Record<string, unknown>;
  if (typeof k8s.name !== "string" || k8s.name === "")
    throw new InvalidInputError("needs kubernetesService.name", { ...where, field: "kubernetesService.name" });
  const obj: KubeObject = {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: {
      annotations: {
        "iam.gke.io/gcp-service-account": `${String(gsa.name ?? "")}@${String(gsa.projectId ?? "")}.iam.gserviceaccount.com`,
      },
      name: k8s.name,
      ...(typeof k8s.namespace === "string" && k8s.namespace !== "" ? { namespace: k8s.namespace } : {}),
    },
  };
  return newResource(obj, where.file);
}

/** A labels/annotations map of a plugin config, values as the strings kustomize holds them in. */
function stringValues(map: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isPlainObject(map))
    for (const [k, v] of Object.entries(map)) out[k] = v === null || v === undefined ? "" : String(v);
  return out;
}
