import { posix } from "node:path";
import { InvalidInputError } from "../core/errors.js";
import { joinInTree, type FileTree } from "../core/file-tree.js";
import type { KubeObject } from "../core/object.js";
import type { GeneratorArgs, GeneratorOptions } from "./kustomization-file.js";
import { newResource, type Resource } from "./resource.js";

/**
 * configMapGenerator and secretGenerator: data from `literals`, `files` and `envs`, with the
 * kustomization's `generatorOptions` merged under each generator's `options`.
 */
export function generate(
  kind: "ConfigMap" | "Secret",
  args: GeneratorArgs,
  index: number,
  ctx: { tree: FileTree; dir: string; file: string; options?: GeneratorOptions },
): Resource {
  const field = `${kind === "ConfigMap" ? "configMapGenerator" : "secretGenerator"}[${index}]`;
  const where = { file: ctx.file, field };
  if (!args.name) throw new InvalidInputError("a generator needs a name", { ...where, field: `${field}.name` });
  const behavior = args.behavior ?? "create";
  if (!["create", "merge", "replace"].includes(behavior)) {
    throw new InvalidInputError(`behavior must be create, merge or replace, not '${behavior}'`, {
      ...where,
      field: `${field}.behavior`,
    });
  }
  const data = new Map<string, string | Uint8Array>();
  const put = (key: string, value: string | Uint8Array, source: string) => {
    // kubectl kustomize checks no key (`export A` from an env file, `a b` from a literal): the API server does.
    if (data.has(key)) throw new InvalidInputError(`key '${key}' is set twice (from ${source})`, where);
    data.set(key, value);
  };
  for (const env of [...(args.env ? [args.env] : []), ...(args.envs ?? [])]) {
    const path = joinInTree(ctx.dir, env, { file: ctx.file, field: `${field}.envs` });
    for (const [k, v] of parseEnvFile(readOrFail(ctx.tree, path, ctx.file, `${field}.envs`), path)) put(k, v, path);
  }
  (args.literals ?? []).forEach((literal, i) => {
    const [k, v] = parseLiteral(literal, { ...where, field: `${field}.literals[${i}]` });
    put(k, v, `${field}.literals[${i}]`);
  });
  for (const entry of args.files ?? []) {
    const eq = entry.indexOf("=");
    const key = eq >= 0 ? entry.slice(0, eq) : posix.basename(entry);
    const rel = eq >= 0 ? entry.slice(eq + 1) : entry;
    const path = joinInTree(ctx.dir, rel, { file: ctx.file, field: `${field}.files` });
    if (ctx.tree.kind(path) === "dir")
      throw new InvalidInputError(`'${rel}' is a folder; list its files`, { ...where, field: `${field}.files` });
    const bytes = ctx.tree.kind(path) === "file" ? ctx.tree.read(path) : undefined;
    if (!bytes) throw new InvalidInputError(`file '${rel}' does not exist`, { ...where, field: `${field}.files` });
    put(key, isUtf8(bytes) ? Buffer.from(bytes).toString("utf8") : bytes, path);
  }

  const options = mergeOptions(ctx.options, args.options);
  const metadata: KubeObject["metadata"] = { name: args.name };
  if (args.namespace) metadata.namespace = args.namespace;
  if (options.labels && Object.keys(options.labels).length) metadata.labels = { ...options.labels };
  if (options.annotations && Object.keys(options.annotations).length) metadata.annotations = { ...options.annotations };
  const obj: KubeObject = { apiVersion: "v1", kind, metadata };
  const sortedKeys = [...data.keys()].sort();
  if (kind === "ConfigMap") {
    const text: Record<string, string> = {};
    const binary: Record<string, string> = {};
    for (const k of sortedKeys) {
      const v = data.get(k)!;
      if (typeof v === "string") text[k] = v;
      else binary[k] = wrappedBase64(Buffer.from(v));
    }
    if (Object.keys(text).length) obj.data = text;
    if (Object.keys(binary).length) obj.binaryData = binary;
  } else {
    obj.type = args.type ?? "Opaque";
    const encoded: Record<string, string> = {};
    for (const k of sortedKeys) {
      const v = data.get(k)!;
      encoded[k] = wrappedBase64(typeof v === "string" ? Buffer.from(v, "utf8") : Buffer.from(v));
    }
    if (sortedKeys.length) obj.data = encoded;
  }
  if (options.immutable) obj.immutable = true;
  const res = newResource(obj, ctx.file);
  res.behavior = behavior;
  res.generatedBy = ctx.file;
  res.hashSuffix = !options.disableNameSuffixHash;
  return res;
}

function mergeOptions(base: GeneratorOptions | undefined, own: GeneratorOptions | undefined): GeneratorOptions {
  return {
    labels: { ...base?.labels, ...own?.labels },
    annotations: { ...base?.annotations, ...own?.annotations },
    disableNameSuffixHash: (own?.disableNameSuffixHash ?? false) || (base?.disableNameSuffixHash ?? false),
    immutable: (own?.immutable ?? false) || (base?.immutable ?? false),
  };
}

function readOrFail(tree: FileTree, path: string, file: string, field: string): string {
  if (tree.kind(path) !== "file") throw new InvalidInputError(`file '${path}' does not exist`, { file, field });
  return tree.readText(path);
}

/**
 * `KEY=value`, a value in matching single or double quotes unquoted, as kustomize parses literals.
 * Errors name the field, never the literal: it may be a Secret's value.
 */
export function parseLiteral(literal: string, where: { file?: string; field?: string }): [string, string] {
  const eq = literal.indexOf("=");
  if (eq <= 0)
    throw new InvalidInputError(
      eq === 0 ? "the literal has no key before '=': expected KEY=value" : "the literal has no '=': expected KEY=value",
      where,
    );
  const key = literal.slice(0, eq);
  let value = literal.slice(eq + 1);
  if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value[value.length - 1] === value[0])
    value = value.slice(1, -1);
  return [key, value];
}

/**
 * An env file as kustomize 5.5 reads it: `KEY=value` lines (the value kept as written, `=` and
 * quotes included); blank lines and `#` comments skipped; a bare `KEY` gets an empty value (kustomize
 * no longer reads the environment); the key is not checked (kubectl takes `export A=1` as key `export A`).
 */
export function parseEnvFile(text: string, _file: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  for (const raw of lines) {
    const line = raw.replace(/^\s+/, "");
    if (line === "" || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    const key = eq < 0 ? line : line.slice(0, eq);
    if (key !== "") out.push([key, eq < 0 ? "" : line.slice(eq + 1)]);
  }
  return out;
}

function isUtf8(bytes: Uint8Array): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/**
 * Base64 as kustomize's kyaml writes generated data: when longer than 70 characters, cut into
 * 70-character lines, each ending in a newline (the hash suffix is computed from this text).
 */
function wrappedBase64(bytes: Buffer): string {
  const LINE = 70;
  const encoded = bytes.toString("base64");
  if (encoded.length < LINE) return encoded;
  let out = "";
  for (let i = 0; i < encoded.length; i += LINE) out += `${encoded.slice(i, i + LINE)}\n`;
  return out;
}
