import { posix } from "node:path";
import { CycleError, InvalidInputError, NotFoundError, RefusedError } from "../core/errors.js";
import { joinInTree, realPathIn, type FileTree } from "../core/file-tree.js";
import { isPlainObject, type KubeObject } from "../core/object.js";
import { parseYamlDocument, parseYamlDocuments } from "../core/yaml.js";
import { applyBuiltinPlugin } from "./builtin-plugins.js";
import { generate } from "./generators.js";
import { mergeOpenApiDefinitions } from "./crd-config.js";
import { contentHash } from "./hash.js";
import { KUSTOMIZATION_FILE_NAMES, parseKustomizationFile, type KustomizationFile } from "./kustomization-file.js";
import { fixNameReferences } from "./name-reference.js";
import { builtinSchema, withOpenApi, type MergeSchema } from "./patch/schema.js";
import { applyPatches } from "./patches.js";
import { plainFolderKustomization } from "./plain-folder.js";
import { applyReplacements } from "./replacements.js";
import { newResource, recordName, type Resource } from "./resource.js";
import { legacySort } from "./sort.js";
import {
  fieldTransformations,
  recordTransformations,
  TRANSFORMATIONS_ANNOTATION,
  transformationsText,
} from "./transformer-annotations.js";
import { builtinTransformerConfig, mergeConfiguration, type TransformerConfig } from "./transformer-config.js";
import {
  applyAnnotations,
  applyImages,
  applyLabels,
  applyNamespace,
  applyPrefixSuffix,
  applyReplicas,
  assertUnique,
} from "./transformers.js";
import { bindVars, resolveVars, type VarDefinition } from "./vars.js";

/** What one render shares across the kustomizations it loads. */
export interface BuildState {
  tree: FileTree;
  config: TransformerConfig;
  schema: MergeSchema;
  vars: VarDefinition[];
  clusterScoped: Set<string>;
  /** Folders being built, for cycle detection. */
  stack: string[];
}

export function newBuildState(tree: FileTree): BuildState {
  return {
    tree,
    config: builtinTransformerConfig(),
    schema: builtinSchema,
    vars: [],
    clusterScoped: new Set(),
    stack: [],
  };
}

const REMOTE =
  /^(https?:\/\/|git@|ssh:\/\/|git::|file:\/\/|github\.com\/|gitlab\.com\/|bitbucket\.org\/)|\?ref=|\/\/.*\?/;

/** The kustomization file of a folder, if it has one; two of them is an error, as kustomize cannot tell which one counts. */
export function findKustomizationFile(tree: FileTree, dir: string): string | undefined {
  const found = KUSTOMIZATION_FILE_NAMES.map((name) => (dir ? `${dir}/${name}` : name)).filter(
    (path) => tree.kind(path) === "file",
  );
  if (found.length > 1)
    throw new InvalidInputError(
      `folder '${dir || "."}' has several kustomization files (${found.map((f) => posix.basename(f)).join(", ")}); keep one`,
      { file: found[1]!, line: 1 },
    );
  return found[0];
}

/** Loads a folder's kustomization (or, without one, the kustomization Flux would generate). */
export function loadKustomization(
  tree: FileTree,
  dir: string,
  allowPlain: boolean,
  from?: string,
): { k: KustomizationFile; file: string } {
  const file = findKustomizationFile(tree, dir);
  if (file) return { k: parseKustomizationFile(tree.readText(file), file), file };
  if (!allowPlain) {
    throw new NotFoundError(`folder '${dir || "."}' has no kustomization.yaml, kustomization.yml or Kustomization`, {
      file: dir || ".",
      ...(from ? { field: from } : {}),
    });
  }
  return { k: plainFolderKustomization(tree, dir), file: dir ? `${dir}/` : "./" };
}

/**
 * Builds one kustomization: its resources (files, folders, nested kustomizations), components,
 * generators and transformers, in kustomize's order. `initial` holds the parent's resources when
 * the kustomization is a component.
 */
export function buildTarget(
  dir: string,
  k: KustomizationFile,
  file: string,
  state: BuildState,
  initial: Resource[] = [],
): Resource[] {
  assertNoCycle(dir, file, state);
  state.stack.push(dir);
  try {
    const ctx = { tree: state.tree, dir, file };
    let resources = [...initial, ...loadResources(k.resources, ctx, state)];
    assertUnique(resources, file);

    for (const c of k.configurations) {
      const path = joinInTree(dir, c, { file, field: "configurations" });
      if (state.tree.kind(path) !== "file")
        throw new NotFoundError(`configuration file '${c}' does not exist`, { file, field: "configurations" });
      mergeConfiguration(state.config, parseYamlDocument(state.tree.readText(path), path), path);
    }
    for (const c of k.crds) registerCrds(joinInTree(dir, c, { file, field: "crds" }), state, file);
    if (k.openapi) state.schema = openApiSchema(k.openapi, dir, file, state);

    // kustomize 5 runs a kustomization's generators before its components, so a component's
    // transformers and generator merges see the generated ConfigMaps and Secrets.
    resources = runGenerators(resources, k, ctx, state);
    for (const c of k.components) {
      if (REMOTE.test(c))
        throw new RefusedError(`remote component '${c}' is refused: render reads only the repository`, {
          file,
          field: "components",
        });
      const cdir = joinInTree(dir, c, { file, field: "components" });
      if (state.tree.kind(cdir) !== "dir")
        throw new NotFoundError(`component '${c}' does not exist`, { file, field: "components" });
      const loaded = loadKustomization(state.tree, cdir, false, `components (from ${file})`);
      assertNoCycle(cdir, loaded.file, state, "components");
      if (loaded.k.kind !== "Component")
        throw new InvalidInputError(`'${c}' is a ${loaded.k.kind}, not a Component`, { file, field: "components" });
      resources = buildTarget(cdir, loaded.k, loaded.file, state, resources);
    }

    resources = runTransformers(resources, k, ctx, state);
    state.vars.push(
      ...bindVars(
        k.vars.map((v) => ({ ...v, file })),
        resources,
      ),
    );
    return resources;
  } finally {
    state.stack.pop();
  }
}

/** kustomize's one built-in OpenAPI version (the schema Flotilla's strategic merge knows). */
const BUILTIN_OPENAPI_VERSION = "v1.21.2";

/**
 * The schema a kustomization's `openapi` field selects: a schema file (`path`) on top of the
 * built-in one, or the built-in version by name (which undoes a base's custom schema); not both.
 */
function openApiSchema(openapi: Record<string, unknown>, dir: string, file: string, state: BuildState): MergeSchema {
  const { path: rel, version } = openapi;
  if (version !== undefined && rel !== undefined)
    throw new InvalidInputError("give either a built-in openapi version or a custom schema path, not both", {
      file,
      field: "openapi",
    });
  if (version !== undefined) {
    if (version !== BUILTIN_OPENAPI_VERSION)
      throw new InvalidInputError(
        `OpenAPI version '${String(version)}' is not built in (kustomize has ${BUILTIN_OPENAPI_VERSION})`,
        {
          file,
          field: "openapi.version",
        },
      );
    return builtinSchema;
  }
  if (typeof rel !== "string")
    throw new InvalidInputError("openapi needs a path to a schema file or a built-in version", {
      file,
      field: "openapi.path",
    });
  const path = joinInTree(dir, rel, { file, field: "openapi.path" });
  if (state.tree.kind(path) !== "file")
    throw new NotFoundError(`openapi schema '${rel}' does not exist`, { file, field: "openapi.path" });
  return withOpenApi(state.schema, parseYamlDocument(state.tree.readText(path), path), path);
}

/** A kustomization that is already being built, reached again (through `field`), is a cycle. */
function assertNoCycle(dir: string, file: string, state: BuildState, field?: string): void {
  // By real path, as kustomize's loader resolves symlinks: `resources: [self]` with `self -> .` is a cycle.
  const real = realPathIn(state.tree, dir);
  const at = state.stack.findIndex((d) => d === dir || realPathIn(state.tree, d) === real);
  if (at < 0) return;
  const cycle = [...state.stack.slice(at), dir].map((d) => d || ".");
  throw new CycleError("kustomization", cycle, { file, ...(field ? { field } : {}) });
}

function loadResources(
  entries: readonly string[],
  ctx: { tree: FileTree; dir: string; file: string },
  state: BuildState,
): Resource[] {
  const out: Resource[] = [];
  for (const entry of entries) {
    if (REMOTE.test(entry))
      throw new RefusedError(
        `remote resource '${entry}' is refused: render reads only the repository, never the network`,
        {
          file: ctx.file,
          field: "resources",
        },
      );
    const path = joinInTree(ctx.dir, entry, { file: ctx.file, field: "resources" });
    const kind = ctx.tree.kind(path);
    if (kind === undefined)
      throw new NotFoundError(`resource '${entry}' does not exist`, { file: ctx.file, field: "resources" });
    if (kind === "dir") {
      const sub = loadKustomization(ctx.tree, path, false, `resources (from ${ctx.file})`);
      assertNoCycle(path, sub.file, state, "resources");
      if (sub.k.kind === "Component")
        throw new InvalidInputError(`'${entry}' is a Component: list it under components, not resources`, {
          file: ctx.file,
          field: "resources",
        });
      out.push(...buildTarget(path, sub.k, sub.file, state));
      continue;
    }
    out.push(...loadManifestFile(ctx.tree, path));
  }
  return out;
}

/** The objects of one manifest file (List kinds expanded), each checked for kind and name. */
export function loadManifestFile(tree: FileTree, path: string): Resource[] {
  const out: Resource[] = [];
  for (const { value, line } of parseYamlDocuments(tree.readText(path), path, { manifest: true })) {
    if (!isPlainObject(value)) throw new InvalidInputError("a manifest must be a YAML map", { file: path, line });
    const items =
      typeof value.kind === "string" && value.kind.endsWith("List") && Array.isArray(value.items)
        ? value.items
        : [value];
    for (const item of items) {
      if (!isPlainObject(item)) throw new InvalidInputError("a list item must be a YAML map", { file: path, line });
      if (typeof item.kind !== "string" || item.kind === "")
        throw new InvalidInputError("missing kind", { file: path, line, field: "kind" });
      if (typeof item.apiVersion !== "string")
        throw new InvalidInputError("missing apiVersion", {
          file: path,
          line,
          field: "apiVersion",
          object: String(item.kind),
        });
      if (!isPlainObject(item.metadata)) item.metadata = {};
      const meta = item.metadata as Record<string, unknown>;
      stringifyScalars(meta, "labels");
      stringifyScalars(meta, "annotations");
      // kustomize 5.5 needs a name: `generateName` alone is refused, as kubectl kustomize refuses it.
      if (typeof meta.name !== "string" || meta.name === "")
        throw new InvalidInputError("missing metadata.name", {
          file: path,
          line,
          field: "metadata.name",
          object: String(item.kind),
        });
      out.push(newResource(item as KubeObject, path));
    }
  }
  return out;
}

/** kustomize holds labels and annotations as strings: `happy: true` is read as "true", `port: 80` as "80". */
function stringifyScalars(meta: Record<string, unknown>, key: "labels" | "annotations"): void {
  const map = meta[key];
  if (!isPlainObject(map)) return;
  for (const [k, v] of Object.entries(map)) if (typeof v === "number" || typeof v === "boolean") map[k] = String(v);
}

function registerCrds(path: string, state: BuildState, file: string): void {
  if (state.tree.kind(path) !== "file")
    throw new NotFoundError(`crd file '${path}' does not exist`, { file, field: "crds" });
  for (const { value } of parseYamlDocuments(state.tree.readText(path), path)) {
    if (!isPlainObject(value)) continue;
    if (mergeOpenApiDefinitions(state.config, value)) continue;
    const spec = value.spec as Record<string, unknown> | undefined;
    if (value.kind === "CustomResourceDefinition" && spec?.scope === "Cluster") {
      const names = spec.names as Record<string, unknown> | undefined;
      if (typeof names?.kind === "string") state.clusterScoped.add(names.kind);
    }
  }
}

function runGenerators(
  resources: Resource[],
  k: KustomizationFile,
  ctx: { tree: FileTree; dir: string; file: string },
  state: BuildState,
): Resource[] {
  const generated: Resource[] = [];
  k.configMapGenerator.forEach((args, i) =>
    generated.push(
      generate("ConfigMap", args, i, { ...ctx, ...(k.generatorOptions ? { options: k.generatorOptions } : {}) }),
    ),
  );
  k.secretGenerator.forEach((args, i) =>
    generated.push(
      generate("Secret", args, i, { ...ctx, ...(k.generatorOptions ? { options: k.generatorOptions } : {}) }),
    ),
  );
  for (const entry of k.generators) {
    for (const { doc, source } of pluginDocs(entry, ctx, "generators", state)) {
      generated.push(...applyBuiltinPlugin(doc, source, [], { ...ctx, state, generator: true }).generated);
    }
  }
  let out = resources;
  for (const res of generated) out = mergeGenerated(out, res, ctx.file);
  return out;
}

function mergeGenerated(resources: Resource[], res: Resource, file: string): Resource[] {
  const { kind, metadata } = res.obj;
  const same = resources.find(
    (r) =>
      r.obj.kind === kind &&
      r.names.some((n) => n.name === metadata.name) &&
      (metadata.namespace === undefined || r.names.some((n) => (n.namespace ?? "") === metadata.namespace)),
  );
  const behavior = res.behavior ?? "create";
  if (behavior === "create") {
    if (same)
      throw new InvalidInputError(`${kind} '${metadata.name}' already exists; use behavior: merge or replace`, {
        file,
        field: kind === "ConfigMap" ? "configMapGenerator" : "secretGenerator",
      });
    return [...resources, res];
  }
  if (!same)
    throw new InvalidInputError(`behavior ${behavior} needs an existing ${kind} '${metadata.name}' from a base`, {
      file,
      field: kind === "ConfigMap" ? "configMapGenerator" : "secretGenerator",
    });
  const target = same.obj;
  if (behavior === "replace") {
    // The replacing generator is where the object now comes from.
    if (res.generatedBy) same.generatedBy = res.generatedBy;
    for (const key of ["data", "binaryData", "type", "immutable"]) {
      if (res.obj[key] !== undefined) target[key] = res.obj[key];
      else if (key !== "type") delete target[key];
    }
  } else {
    for (const key of ["data", "binaryData"]) {
      const add = res.obj[key] as Record<string, string> | undefined;
      if (add) target[key] = { ...((target[key] as Record<string, string> | undefined) ?? {}), ...add };
    }
    if (res.obj.immutable !== undefined) target.immutable = res.obj.immutable;
  }
  if (metadata.labels) target.metadata.labels = { ...target.metadata.labels, ...metadata.labels };
  if (metadata.annotations) target.metadata.annotations = { ...target.metadata.annotations, ...metadata.annotations };
  if (res.hashSuffix === false) same.hashSuffix = false;
  return resources;
}

function runTransformers(
  resources: Resource[],
  k: KustomizationFile,
  ctx: { tree: FileTree; dir: string; file: string },
  state: BuildState,
): Resource[] {
  const pctx = { ...ctx, schema: state.schema };
  let out = resources;
  if (k.patchesStrategicMerge.length > 0) {
    const entries = k.patchesStrategicMerge.map((p) => (looksInline(p) ? { patch: p } : { path: p }));
    out = applyPatches(out, entries, "patchesStrategicMerge", pctx);
  }
  if (k.patches.length > 0) out = applyPatches(out, k.patches, "patches", pctx);
  if (k.namespace) {
    applyNamespace(out, k.namespace, state.config, state.clusterScoped, { file: ctx.file });
    assertUnique(out, ctx.file);
  }
  // A configurations file's own metadata/name specs (for some kinds) take the place of kustomize's default one.
  const nameSpecs = state.config.namePrefix.filter((fs) => fs.path.join("/") === "metadata/name");
  applyPrefixSuffix(
    out,
    k.namePrefix ?? "",
    k.nameSuffix ?? "",
    state.config,
    nameSpecs.length > 0 ? nameSpecs : undefined,
  );
  if (k.commonLabels) applyLabels(out, k.commonLabels, { selectors: true, templates: true }, state.config);
  for (const entry of k.labels) {
    const fields = (entry.fields ?? []).map((f) => ({
      path: String(f.path ?? "")
        .split("/")
        .filter(Boolean),
      ...(typeof f.kind === "string" ? { kind: f.kind } : {}),
      ...(f.create === true ? { create: true } : {}),
    }));
    applyLabels(
      out,
      entry.pairs ?? {},
      {
        selectors: entry.includeSelectors ?? false,
        templates: entry.includeTemplates ?? false,
        fields,
        configured: true,
      },
      state.config,
    );
  }
  if (k.commonAnnotations) applyAnnotations(out, k.commonAnnotations, state.config);
  if (k.patchesJson6902.length > 0) out = applyPatches(out, k.patchesJson6902, "patchesJson6902", pctx, true);
  applyReplicas(out, k.replicas, state.config, ctx.file);
  applyImages(out, k.images, state.config);
  for (const [i, r] of k.replacements.entries()) {
    if (typeof r.path === "string") {
      const path = joinInTree(ctx.dir, r.path, { file: ctx.file, field: "replacements.path" });
      if (state.tree.kind(path) !== "file")
        throw new NotFoundError(`replacements file '${r.path}' does not exist`, {
          file: ctx.file,
          field: "replacements.path",
        });
      const docs = parseYamlDocuments(state.tree.readText(path), path).map((d) => d.value);
      const list =
        docs.length === 1 && Array.isArray(docs[0])
          ? (docs[0] as Record<string, unknown>[])
          : (docs as Record<string, unknown>[]);
      applyReplacements(out, list, path);
    } else applyReplacements(out, [r], ctx.file, i);
  }
  const steps = fieldTransformations(k, ctx.file);
  for (const entry of k.transformers) {
    for (const { doc, source } of pluginDocs(entry, ctx, "transformers", state)) {
      out = applyBuiltinPlugin(doc, source, out, { ...ctx, state, generator: false }).resources;
      const meta = isPlainObject(doc.metadata) ? doc.metadata : {};
      const name = typeof meta.name === "string" ? meta.name : undefined;
      const namespace = typeof meta.namespace === "string" ? meta.namespace : undefined;
      steps.push({
        file: ctx.file,
        apiVersion: String(doc.apiVersion),
        kind: String(doc.kind),
        ...(name ? { name } : {}),
        ...(namespace ? { namespace } : {}),
      });
    }
  }
  recordTransformations(out, steps);
  return out;
}

function looksInline(p: string): boolean {
  return p.includes("\n") || /^\s*(apiVersion|kind|metadata)\s*:/.test(p);
}

/** A `generators`/`transformers` entry: an inline config, a config file, or a folder whose build yields configs. */
function pluginDocs(
  entry: string,
  ctx: { tree: FileTree; dir: string; file: string },
  field: string,
  state: BuildState,
): Array<{ doc: Record<string, unknown>; source: string }> {
  if (looksInline(entry)) {
    return parseYamlDocuments(entry, `${ctx.file} (${field})`).map((d) => ({
      doc: d.value as Record<string, unknown>,
      source: ctx.file,
    }));
  }
  const path = joinInTree(ctx.dir, entry, { file: ctx.file, field });
  const kind = ctx.tree.kind(path);
  if (kind === undefined) throw new NotFoundError(`'${entry}' does not exist`, { file: ctx.file, field });
  if (kind === "dir") {
    const sub = loadKustomization(ctx.tree, path, false);
    return buildTarget(path, sub.k, sub.file, { ...state, vars: [], stack: state.stack }).map((r) => ({
      doc: r.obj as Record<string, unknown>,
      source: r.file,
    }));
  }
  return parseYamlDocuments(ctx.tree.readText(path), path).map((d) => ({
    doc: d.value as Record<string, unknown>,
    source: path,
  }));
}

/**
 * The steps kustomize runs once, at the top: hash suffixes for generated ConfigMaps and Secrets,
 * name references, vars, local-config removal, build metadata and sorting.
 */
export function finishBuild(
  resources: Resource[],
  k: KustomizationFile,
  state: BuildState,
  root: string,
): KubeObject[] {
  for (const res of resources) {
    if (!res.hashSuffix) continue;
    res.obj.metadata.name = `${res.obj.metadata.name ?? ""}-${contentHash(res.obj)}`;
    recordName(res);
  }
  fixNameReferences(resources, state.config, state.clusterScoped);
  resolveVars(resources, state.vars, state.config);
  let out = resources.filter((r) => r.obj.metadata.annotations?.["config.kubernetes.io/local-config"] !== "true");
  // kustomize writes its build annotations into every object and clears them at the end, which
  // drops an empty or null `metadata.annotations` (labels are left as written).
  for (const r of out) {
    const a: unknown = r.obj.metadata.annotations;
    if (a === null || (isPlainObject(a) && Object.keys(a).length === 0)) delete r.obj.metadata.annotations;
  }
  if (k.buildMetadata.includes("originAnnotations")) {
    for (const r of out) {
      const rel = posix.relative(root || ".", r.file) || r.file;
      const origin = r.generatedBy
        ? `configuredIn: ${posix.relative(root || ".", r.generatedBy)}\nconfiguredBy:\n  apiVersion: builtin\n  kind: ${r.obj.kind}Generator\n${r.generatorConfigName ? `  name: ${r.generatorConfigName}\n` : ""}`
        : `path: ${rel}\n`;
      r.obj.metadata.annotations = { ...r.obj.metadata.annotations, "config.kubernetes.io/origin": origin };
    }
  }
  if (k.buildMetadata.includes("transformerAnnotations")) {
    for (const r of out) {
      const text = transformationsText(r, root);
      if (text) r.obj.metadata.annotations = { ...r.obj.metadata.annotations, [TRANSFORMATIONS_ANNOTATION]: text };
    }
  }
  if (k.buildMetadata.includes("managedByLabel")) {
    for (const r of out)
      r.obj.metadata.labels = { ...r.obj.metadata.labels, "app.kubernetes.io/managed-by": "kustomize-(devel)" };
  }
  if (k.sortOptions?.order !== "fifo") out = legacySort(out, k.sortOptions?.legacySortOptions ?? {});
  return out.map((r) => r.obj);
}
