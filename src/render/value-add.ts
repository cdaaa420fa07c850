import { posix } from "node:path";
import { InvalidInputError, NotFoundError } from "../core/errors.js";
import { joinInTree, type FileTree } from "../core/file-tree.js";
import { isPlainObject } from "../core/object.js";
import { parseYamlDocument } from "../core/yaml.js";
import type { PatchTarget } from "./kustomization-file.js";
import { plainScalar } from "./replacement-path.js";
import type { Resource } from "./resource.js";
import { compileSelector } from "./selector.js";

interface ValueAddTarget {
  selector?: PatchTarget;
  fieldPath: string;
  filePathPosition: number;
}

interface ValueAddContext {
  tree: FileTree;
  dir: string;
  source: string;
  where: { file: string; object: string };
  /** kustomize's namespace filter, for a `metadata/namespace` target. */
  setNamespace: (resources: Resource[], namespace: string) => void;
}

/**
 * kustomize's built-in ValueAddTransformer: writes `value` (by default the kustomization folder's
 * name) into a field of the selected objects, creating it, or inserts it into a file path held by
 * the field at `filePathPosition` (1 prefixes). `metadata/namespace` moves the object.
 */
export function applyValueAdd(
  resources: readonly Resource[],
  doc: Record<string, unknown>,
  ctx: ValueAddContext,
): void {
  const value = String(doc.value ?? "").trim() || posix.basename(ctx.dir);
  // Without a value kustomize takes the kustomization folder's name; the render root's own name is not part of the tree.
  if (value === "")
    throw new InvalidInputError(
      "needs a value: the default, the kustomization folder's name, is unknown at the render root",
      {
        ...ctx.where,
        field: "value",
      },
    );
  const targets = targetsOf(doc, ctx);
  for (const [i, t] of targets.entries()) {
    const select = t.selector
      ? compileSelector(t.selector, { ...ctx.where, field: `targets[${i}].selector` })
      : () => true;
    for (const res of resources) {
      if (!select(res)) continue;
      if (t.fieldPath === "metadata/namespace") {
        ctx.setNamespace([res], value);
        continue;
      }
      setValue(res, t, value, { ...ctx.where, field: `targets[${i}].fieldPath` });
    }
  }
}

function targetsOf(doc: Record<string, unknown>, ctx: ValueAddContext): ValueAddTarget[] {
  const raw: unknown[] = Array.isArray(doc.targets) ? [...doc.targets] : [];
  if (typeof doc.targetFilePath === "string" && doc.targetFilePath !== "") {
    const path = joinInTree(ctx.dir, doc.targetFilePath, { file: ctx.source, field: "targetFilePath" });
    if (ctx.tree.kind(path) !== "file")
      throw new NotFoundError(`targetFilePath '${doc.targetFilePath}' does not exist`, {
        ...ctx.where,
        field: "targetFilePath",
      });
    const file = parseYamlDocument(ctx.tree.readText(path), path);
    if (isPlainObject(file) && Array.isArray(file.targets)) raw.push(...file.targets);
  }
  if (raw.length === 0)
    throw new InvalidInputError("must specify at least one target", { ...ctx.where, field: "targets" });
  return raw.map((t, i) => {
    const where = { ...ctx.where, field: `targets[${i}]` };
    if (!isPlainObject(t)) throw new InvalidInputError("a target must be a map", where);
    if (typeof t.fieldPath !== "string" || t.fieldPath === "")
      throw new InvalidInputError("fieldPath cannot be empty", { ...where, field: `${where.field}.fieldPath` });
    const position = typeof t.filePathPosition === "number" ? t.filePathPosition : 0;
    if (position < 0)
      throw new InvalidInputError(`filePathPosition (${position}) cannot be negative`, {
        ...where,
        field: `${where.field}.filePathPosition`,
      });
    return {
      ...(isPlainObject(t.selector) ? { selector: t.selector as PatchTarget } : {}),
      fieldPath: t.fieldPath,
      filePathPosition: position,
    };
  });
}

/** Splits a `/` path where `\/` escapes a slash inside a key. */
function splitSlashPath(path: string): string[] {
  const out: string[] = [];
  for (const part of path.split("/")) {
    const last = out.length - 1;
    if (last >= 0 && out[last]!.endsWith("\\")) out[last] = `${out[last]!.slice(0, -1)}/${part}`;
    else out.push(part);
  }
  return out;
}

function setValue(
  res: Resource,
  t: ValueAddTarget,
  value: string,
  where: { file: string; object: string; field: string },
): void {
  const parts = splitSlashPath(t.fieldPath).filter((p) => p !== "");
  let node: unknown = res.obj;
  for (const [i, part] of parts.entries()) {
    const last = i === parts.length - 1;
    if (Array.isArray(node) && /^\d+$/.test(part)) {
      if (Number(part) >= node.length) return;
      if (last) return writeScalar(node, Number(part), t, value, where);
      node = node[Number(part)];
      continue;
    }
    if (!isPlainObject(node))
      throw new InvalidInputError(
        `'${t.fieldPath}' of ${res.obj.kind}/${res.obj.metadata.name ?? ""} does not lead through maps`,
        where,
      );
    if (last) return writeScalar(node, part, t, value, where);
    if (node[part] === undefined || node[part] === null) node[part] = {};
    node = node[part];
  }
}

function writeScalar(
  holder: Record<string, unknown> | unknown[],
  key: string | number,
  t: ValueAddTarget,
  value: string,
  where: { file: string; object: string; field: string },
): void {
  const current = (holder as Record<string | number, unknown>)[key];
  if (isPlainObject(current) || Array.isArray(current))
    throw new InvalidInputError(`'${t.fieldPath}' holds a map or a list, not a scalar`, where);
  const text =
    t.filePathPosition > 0
      ? insertPathPart(current === undefined || current === null ? "" : String(current), t.filePathPosition - 1, value)
      : value;
  // kyaml sets an untagged scalar: it reads back as YAML would read the text.
  (holder as Record<string | number, unknown>)[key] = plainScalar(text);
}

/** kustomize's InsertPathPart: `part` at position `pos` of a slash path, an absolute path staying absolute. */
export function insertPathPart(path: string, pos: number, part: string): string {
  if (part === "") return path;
  const parts = pathSplit(path);
  let at = Math.max(0, Math.min(pos, parts.length));
  if (parts.length > 0 && parts[0] === "" && at < parts.length) at++;
  const result = [...parts.slice(0, at), part, ...parts.slice(at)];
  if (result[0] === "") return `/${posix.join(...result.slice(1))}`;
  return posix.join(...result);
}

function pathSplit(path: string): string[] {
  if (path === "") return [];
  const slash = path.lastIndexOf("/");
  const dir = path.slice(0, slash + 1);
  const base = path.slice(slash + 1);
  if (dir === "/") return base === "" ? [""] : ["", base];
  const trimmed = dir.replace(/\/$/, "");
  return trimmed === "" ? [base] : [...pathSplit(trimmed), base];
}
