import { InvalidInputError, RefusedError } from "../core/errors.js";
import type { FileTree } from "../core/file-tree.js";
import { isPlainObject } from "../core/object.js";
import type { BuildState } from "./build.js";
import { fieldSpecFromConfig, type FieldSpec } from "./field-specs.js";
import { generate } from "./generators.js";
import type { GeneratorArgs, PatchTarget } from "./kustomization-file.js";
import { applyPatches } from "./patches.js";
import { applyReplacements } from "./replacements.js";
import type { Resource } from "./resource.js";
import { cloneConfig } from "./transformer-config.js";
import { applyAnnotations, applyImages, applyLabels, applyPairsAt, applyNamespace, applyPrefixSuffix, applyReplicas, type NamespaceOptions } from "./transformers.js";

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
export function applyBuiltinPlugin(doc: Record<string, unknown>, source: string, resources: Resource[], ctx: PluginContext): { resources: Resource[]; generated: Resource[] } {
  if (!isPlainObject(doc)) throw new InvalidInputError("a plugin configuration must be a YAML map", { file: source });
  const kind = String(doc.kind ?? "");
  const annotations = (isPlainObject(doc.metadata) && isPlainObject(doc.metadata.annotations) ? doc.metadata.annotations : {}) as Record<string, unknown>;
  if (annotations["config.kubernetes.io/function"] !== undefined || doc.apiVersion !== "builtin") {
    throw new RefusedError(
      `plugin ${String(doc.apiVersion)}/${kind} is not one of kustomize's built-in plugins; plugins that run an executable or a container are not supported`,
      { file: source, field: "apiVersion" },
    );
  }
  const where = { file: source, object: `${kind}/${String((doc.metadata as Record<string, unknown> | undefined)?.name ?? "")}` };
  const config = cloneConfig(ctx.state.config);
  const custom = specsOf(doc);
  const none = { resources, generated: [] as Resource[] };
  switch (kind) {
    case "ConfigMapGenerator":
    case "SecretGenerator": {
      const meta = (doc.metadata ?? {}) as Record<string, unknown>;
      const args = { ...doc, name: meta.name, namespace: meta.namespace } as GeneratorArgs;
      return { resources, generated: [generate(kind === "ConfigMapGenerator" ? "ConfigMap" : "Secret", args, 0, { tree: ctx.tree, dir: ctx.dir, file: source })] };
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
      const labels = (doc.labels ?? {}) as Record<string, string>;
      if (custom) applyPairsAt(resources, labels, custom);
      else applyLabels(resources, labels, { selectors: true, templates: true }, config);
      return none;
    }
    case "AnnotationsTransformer": {
      const annotations = (doc.annotations ?? {}) as Record<string, string>;
      if (custom) applyPairsAt(resources, annotations, custom);
      else applyAnnotations(resources, annotations, config);
      return none;
    }
    case "NamespaceTransformer": {
      const ns = (doc.metadata as Record<string, unknown> | undefined)?.namespace;
      if (typeof ns !== "string") throw new InvalidInputError("needs metadata.namespace", { ...where, field: "metadata.namespace" });
      const subjects = doc.setRoleBindingSubjects;
      const options: NamespaceOptions = {
        unsetOnly: doc.unsetOnly === true,
        ...(subjects === "defaultOnly" || subjects === "allServiceAccounts" || subjects === "none" ? { setRoleBindingSubjects: subjects } : {}),
      };
      applyNamespace(resources, ns, config, ctx.state.clusterScoped, options);
      return none;
    }
    case "ImageTagTransformer": {
      if (custom) config.images = custom;
      const tag = doc.imageTag as { name: string } | undefined;
      if (!tag?.name) throw new InvalidInputError("needs imageTag.name", { ...where, field: "imageTag" });
      applyImages(resources, [tag], config);
      return none;
    }
    case "ReplicaCountTransformer": {
      if (custom) config.replicas = custom;
      const replica = doc.replica as { name: string; count: number } | undefined;
      if (!replica?.name) throw new InvalidInputError("needs replica.name and replica.count", { ...where, field: "replica" });
      applyReplicas(resources, [replica], config, source);
      return none;
    }
    case "PatchTransformer": {
      const entry = { ...(typeof doc.path === "string" ? { path: doc.path } : {}), ...(typeof doc.patch === "string" ? { patch: doc.patch } : {}), ...(isPlainObject(doc.target) ? { target: doc.target as PatchTarget } : {}) };
      return { resources: applyPatches(resources, [entry], kind, { tree: ctx.tree, dir: ctx.dir, file: source, schema: ctx.state.schema }), generated: [] };
    }
    case "PatchStrategicMergeTransformer": {
      const entries = [
        ...(Array.isArray(doc.paths) ? doc.paths.map((p) => ({ path: String(p) })) : []),
        ...(typeof doc.patches === "string" ? [{ patch: doc.patches }] : []),
      ];
      return { resources: applyPatches(resources, entries, kind, { tree: ctx.tree, dir: ctx.dir, file: source, schema: ctx.state.schema }), generated: [] };
    }
    case "PatchJson6902Transformer": {
      const entry = {
        ...(typeof doc.path === "string" ? { path: doc.path } : {}),
        ...(typeof doc.jsonOp === "string" ? { patch: doc.jsonOp } : {}),
        ...(isPlainObject(doc.target) ? { target: doc.target as PatchTarget } : {}),
      };
      return { resources: applyPatches(resources, [entry], kind, { tree: ctx.tree, dir: ctx.dir, file: source, schema: ctx.state.schema }, true), generated: [] };
    }
    case "ReplacementTransformer": {
      applyReplacements(resources, (Array.isArray(doc.replacements) ? doc.replacements : []) as Record<string, unknown>[], source);
      return none;
    }
    default:
      throw new RefusedError(`built-in plugin kind '${kind}' is not supported`, { ...where, field: "kind" });
  }
}
