import { InvalidInputError } from "../core/errors.js";
import { joinInTree, type FileTree } from "../core/file-tree.js";
import { isPlainObject, type KubeObject } from "../core/object.js";
import { parseYamlDocuments } from "../core/yaml.js";
import type { PatchEntry } from "./kustomization-file.js";
import { applyJson6902 } from "./patch/json6902.js";
import type { MergeSchema } from "./patch/schema.js";
import { strategicMerge } from "./patch/strategic-merge.js";
import { recordName, describeResource, type Resource } from "./resource.js";
import { compileSelector, matchesPatchIdentity } from "./selector.js";

interface PatchContext {
  tree: FileTree;
  dir: string;
  file: string;
  schema: MergeSchema;
}

/** A patch's text: from its file, or inline (exactly one of the two, as kustomize requires). */
function patchText(
  entry: { path?: string; patch?: string },
  field: string,
  ctx: PatchContext,
): { text: string; source: string } {
  const inline = typeof entry.patch === "string" && entry.patch.trim() !== "";
  const fromFile = typeof entry.path === "string" && entry.path !== "";
  if (!inline && !fromFile)
    throw new InvalidInputError("a patch needs one of patch and path", { file: ctx.file, field });
  if (inline && fromFile) throw new InvalidInputError("patch and path cannot both be set", { file: ctx.file, field });
  if (inline) return { text: entry.patch!, source: `${ctx.file} (${field}.patch)` };
  const path = joinInTree(ctx.dir, entry.path!, { file: ctx.file, field: `${field}.path` });
  if (ctx.tree.kind(path) !== "file")
    throw new InvalidInputError(`patch file '${entry.path}' does not exist`, {
      file: ctx.file,
      field: `${field}.path`,
    });
  return { text: ctx.tree.readText(path), source: path };
}

/**
 * Applies `patches`, `patchesStrategicMerge` or `patchesJson6902` entries to the resources, in
 * order. Returns the resources left (a `$patch: delete` removes its target).
 */
export function applyPatches(
  resources: Resource[],
  entries: readonly PatchEntry[],
  field: string,
  ctx: PatchContext,
  forceJson6902 = false,
): Resource[] {
  let current = resources;
  entries.forEach((entry, i) => {
    const f = `${field}[${i}]`;
    const { text, source } = patchText(entry, f, ctx);
    const docs = parseYamlDocuments(text, source)
      .map((d) => d.value)
      .filter((d) => d !== null && d !== undefined);
    const where = { file: ctx.file, field: entry.patch !== undefined ? `${f}.patch` : `${f}.path` };
    // kustomize reads a patch as strategic merge documents, else as a JSON 6902 list (its first document).
    const isJson6902 = forceJson6902 || (docs.length > 0 && Array.isArray(docs[0]));
    if (!isJson6902 && (docs.length === 0 || !docs.every(isPlainObject))) {
      throw new InvalidInputError(
        "the patch is neither a strategic merge patch (YAML maps) nor a JSON 6902 patch (a list of operations)",
        where,
      );
    }
    if (!isJson6902 && docs.length > 1 && entry.target) {
      throw new InvalidInputError("a patch entry with a target takes one strategic merge patch, not several", {
        file: ctx.file,
        field: `${f}.target`,
      });
    }
    if (isJson6902) {
      if (!entry.target)
        throw new InvalidInputError("a JSON 6902 patch needs a target", { file: ctx.file, field: `${f}.target` });
      const ops = (docs[0] ?? []) as unknown[];
      if (!Array.isArray(ops)) throw new InvalidInputError("a JSON 6902 patch must be a list of operations", where);
      const select = compileSelector(entry.target, { file: ctx.file, field: `${f}.target` });
      for (const res of current) {
        if (!select(res)) continue;
        res.obj = applyJson6902WithAnnotations(res.obj, ops, { file: source, object: describeResource(res) });
        recordName(res, true);
      }
      return;
    }
    for (const doc of docs) {
      if (!isPlainObject(doc))
        throw new InvalidInputError("a strategic merge patch must be a YAML map", { file: source });
      current = applyStrategic(current, doc, entry, { ...ctx, source, field: f });
    }
  });
  return current;
}

function applyStrategic(
  resources: Resource[],
  patch: Record<string, unknown>,
  entry: PatchEntry,
  ctx: PatchContext & { source: string; field: string },
): Resource[] {
  let targets: Resource[];
  if (entry.target) {
    const select = compileSelector(entry.target, { file: ctx.file, field: `${ctx.field}.target` });
    targets = resources.filter(select);
  } else {
    const id = patch as unknown as KubeObject;
    if (!id.kind || !isPlainObject(id.metadata) || typeof id.metadata.name !== "string") {
      throw new InvalidInputError("a strategic merge patch without a target needs kind and metadata.name", {
        file: ctx.source,
        field: ctx.field,
      });
    }
    targets = resources.filter((r) => matchesPatchIdentity(r, id));
    if (targets.length > 1) {
      throw new InvalidInputError(
        `the patch for ${id.kind}/${id.metadata.namespace ? `${id.metadata.namespace}/` : ""}${id.metadata.name} matches ${targets.length} resources (${targets.map(describeResource).join(", ")}); give it a namespace or a target`,
        {
          file: ctx.source,
          field: ctx.field,
        },
      );
    }
    if (targets.length === 0) {
      throw new InvalidInputError(
        `no resource matches the patch for ${id.kind}/${id.metadata.namespace ? `${id.metadata.namespace}/` : ""}${id.metadata.name}`,
        {
          file: ctx.source,
          field: ctx.field,
        },
      );
    }
  }
  const deleted = new Set<Resource>();
  for (const res of targets) {
    const allowName = entry.options?.allowNameChange ?? false;
    const allowKind = entry.options?.allowKindChange ?? false;
    const body: Record<string, unknown> = { ...patch };
    // The patch's own identity selects; it does not rename unless allowed.
    if (isPlainObject(body.metadata)) {
      const meta = { ...(body.metadata as Record<string, unknown>) };
      if (!allowName) delete meta.name;
      if (entry.target || !allowName) delete meta.namespace;
      body.metadata = meta;
    }
    // The patch keeps its apiVersion/kind during the merge: kyaml takes the schema from it when the
    // target's kind has none (a Deployment patch on a custom kind merges containers by name).
    const merged = strategicMerge(res.obj, body, ctx.schema, { file: ctx.source, object: describeResource(res) });
    if (merged === null) deleted.add(res);
    else {
      if (!allowKind) {
        merged.kind = res.obj.kind;
        merged.apiVersion = res.obj.apiVersion;
      }
      res.obj = merged;
      recordName(res, allowName || allowKind);
    }
  }
  return deleted.size ? resources.filter((r) => !deleted.has(r)) : resources;
}

/**
 * kustomize keeps internal annotations on every object while it builds, so a JSON 6902 patch always
 * finds `/metadata/annotations`; an annotations map still empty afterwards is dropped, as kustomize
 * drops it when it clears its internal annotations.
 */
function applyJson6902WithAnnotations(
  obj: KubeObject,
  ops: unknown[],
  context: Parameters<typeof applyJson6902>[2],
): KubeObject {
  const metadata = obj.metadata;
  if (!isPlainObject(metadata) || metadata.annotations !== undefined) return applyJson6902(obj, ops, context);
  const patched = applyJson6902({ ...obj, metadata: { ...metadata, annotations: {} } }, ops, context);
  const annotations = isPlainObject(patched.metadata) ? patched.metadata.annotations : undefined;
  if (isPlainObject(annotations) && Object.keys(annotations).length === 0)
    delete (patched.metadata as Record<string, unknown>).annotations;
  return patched;
}
