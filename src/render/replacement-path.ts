import { isPlainObject } from "../core/object.js";
import { parseYamlDocument } from "../core/yaml.js";

/**
 * Field paths of kustomize `replacements`, read as kyaml reads them: the source through a path
 * getter (exact `[key=value]` matches, `-` for the last element), the targets through a path
 * matcher (`[key=value]` is an unanchored regular expression, `*` every element, `create` makes
 * what is missing).
 */

/** A problem with a path, worded as kustomize words it; the caller adds file and field. */
export class PathError extends Error {}

/**
 * Splits a replacement field path as kyaml's SmarterPathSplitter does: on dots, `\.` escapes a
 * dot, a leading dot is dropped, and a bracketed part that holds dots stays one part (brackets
 * kept for a `[key=value]` list match, removed for a map key such as `[app.kubernetes.io/name]`).
 */
export function splitReplacementPath(path: string): string[] {
  const raw = path.split(".");
  if (raw.length > 1 && raw[0] === "") raw.shift();
  const escaped: string[] = [raw[0]!];
  for (const part of raw.slice(1)) {
    const last = escaped.length - 1;
    if (escaped[last]!.endsWith("\\")) escaped[last] = `${escaped[last]!.slice(0, -1)}.${part}`;
    else escaped.push(part);
  }
  const out: string[] = [];
  for (let i = 0; i < escaped.length; i++) {
    const part = escaped[i]!;
    if (!part.startsWith("[") || part.endsWith("]")) {
      out.push(part);
      continue;
    }
    const bracketed = [part];
    while (i < escaped.length - 1) {
      bracketed.push(escaped[++i]!);
      if (escaped[i]!.endsWith("]")) break;
    }
    const joined = bracketed.join(".");
    out.push(joined.includes("=") ? joined : joined.replace(/^[[\]]+|[[\]]+$/g, ""));
  }
  return out.map((p) => p.trim()).filter((p) => p !== "");
}

const isIndex = (part: string): boolean => /^\d+$/.test(part);
const isListMatch = (part: string): boolean => part.startsWith("[") && part.endsWith("]");

function splitListMatch(part: string): [string, string] {
  const inner = part.slice(1, -1);
  const eq = inner.indexOf("=");
  if (eq < 0) throw new PathError("list path element must contain fieldName=fieldValue for element to match");
  return [inner.slice(0, eq), inner.slice(eq + 1)];
}

function kindName(node: unknown): string {
  return Array.isArray(node) ? "SequenceNode" : isPlainObject(node) ? "MappingNode" : "ScalarNode";
}

/** A scalar's text as YAML holds it (`8080`, `true`), for matching and delimiters. */
export function scalarText(value: unknown): string {
  if (value === null || value === undefined) return "";
  return typeof value === "string" ? value : String(value);
}

/** What a plain, untagged YAML scalar with this text reads as (kyaml writes created fields so). */
export function plainScalar(text: string): unknown {
  if (text === "") return "";
  try {
    const value = parseYamlDocument(text, "(replacement value)");
    return value === null || typeof value === "object" ? text : value;
  } catch {
    return text;
  }
}

/**
 * The value at a source path, or undefined when a part is missing. A part that needs a list or a
 * map where the object has something else is an error, as in kustomize.
 */
export function lookupSource(root: unknown, parts: readonly string[]): unknown {
  let node: unknown = root;
  for (const part of parts) {
    if (node === null || node === undefined) return undefined;
    if (part === "*") throw new PathError("wildcard is not supported in a replacement source");
    if (isIndex(part) || part === "-") {
      if (!Array.isArray(node)) throw new PathError(`wrong node kind: expected SequenceNode but got ${kindName(node)}`);
      node = part === "-" ? node[node.length - 1] : node[Number(part)];
    } else if (isListMatch(part)) {
      const [key, value] = splitListMatch(part);
      if (!Array.isArray(node)) throw new PathError(`wrong node kind: expected SequenceNode but got ${kindName(node)}`);
      node =
        key === ""
          ? node.find((e) => !isPlainObject(e) && !Array.isArray(e) && scalarText(e) === value)
          : node.find(
              (e) =>
                isPlainObject(e) &&
                e[key] !== undefined &&
                !isPlainObject(e[key]) &&
                !Array.isArray(e[key]) &&
                scalarText(e[key]) === value,
            );
    } else {
      if (!isPlainObject(node)) throw new PathError(`wrong node kind: expected MappingNode but got ${kindName(node)}`);
      node = Object.hasOwn(node, part) ? node[part] : undefined;
    }
  }
  return node;
}

/** A place a target path reaches: the container and key to write, and whether the path made it. */
export interface TargetSlot {
  parent: Record<string, unknown> | unknown[];
  key: string | number;
  created: boolean;
}

/** What `create` makes at the end of a path: a node of the replacement value's kind. */
export type LeafKind = "scalar" | "map" | "list";

function blank(next: string | undefined, leaf: LeafKind): unknown {
  if (next === undefined) return leaf === "map" ? {} : leaf === "list" ? [] : undefined;
  return isIndex(next) || isListMatch(next) ? [] : {};
}

const regexCache = new Map<string, RegExp>();
function unanchored(pattern: string): RegExp {
  let re = regexCache.get(pattern);
  if (!re) {
    try {
      re = new RegExp(pattern);
    } catch {
      throw new PathError(`'${pattern}' is not a valid regular expression`);
    }
    regexCache.set(pattern, re);
  }
  return re;
}

/**
 * Every place a target path reaches in an object. With `create` (the replacement value's kind),
 * missing maps and lists are made on the way, a list gets an element appended at index = length
 * or for a `[key=value]` nothing matches, and the last part is made.
 */
export function matchTargets(
  root: Record<string, unknown>,
  parts: readonly string[],
  create: LeafKind | undefined,
): TargetSlot[] {
  const out: TargetSlot[] = [];
  const walk = (node: unknown, slot: TargetSlot | undefined, i: number): void => {
    if (i === parts.length) {
      if (slot) out.push(slot);
      return;
    }
    const part = parts[i]!;
    const next = parts[i + 1];
    if (isIndex(part)) {
      if (!Array.isArray(node)) throw new PathError(`wrong node kind: expected SequenceNode but got ${kindName(node)}`);
      const idx = Number(part);
      let created = false;
      if (idx === node.length && create) {
        node.push(blank(next, create));
        created = true;
      }
      if (idx >= node.length) throw new PathError(`index ${idx} specified but only ${node.length} elements found`);
      walk(node[idx], { parent: node, key: idx, created }, i + 1);
      return;
    }
    if (isListMatch(part)) {
      const [key, pattern] = splitListMatch(part);
      if (!Array.isArray(node)) throw new PathError(`wrong node kind: expected SequenceNode but got ${kindName(node)}`);
      const before = out.length;
      visitListMatches(node, key, pattern, (j) =>
        key === ""
          ? out.push({ parent: node, key: j, created: false })
          : walk(node[j], { parent: node, key: j, created: false }, i + 1),
      );
      if (out.length > before || !create) return;
      node.push(key === "" ? plainScalar(pattern) : { [key]: plainScalar(pattern) });
      visitListMatches(node, key, pattern, (j) =>
        key === ""
          ? out.push({ parent: node, key: j, created: true })
          : walk(node[j], { parent: node, key: j, created: true }, i + 1),
      );
      return;
    }
    if (part === "*") {
      if (!Array.isArray(node)) throw new PathError(`wrong node kind: expected SequenceNode but got ${kindName(node)}`);
      node.forEach((e, j) => walk(e, { parent: node, key: j, created: false }, i + 1));
      return;
    }
    if (node === null || node === undefined) return;
    if (!isPlainObject(node)) throw new PathError(`wrong node kind: expected MappingNode but got ${kindName(node)}`);
    let created = false;
    if (!Object.hasOwn(node, part)) {
      if (!create) return;
      node[part] = blank(next, create);
      created = true;
    }
    walk(node[part], { parent: node, key: part, created }, i + 1);
  };
  walk(root, undefined, 0);
  return out;
}

/** kyaml matches `[key=value]` in a target path as a regular expression on the element's field (or, with no key, on the element). */
function visitListMatches(list: unknown[], key: string, pattern: string, visit: (index: number) => void): void {
  const re = unanchored(pattern);
  for (let j = 0; j < list.length; j++) {
    const e = list[j];
    if (key === "") {
      if (!isPlainObject(e) && !Array.isArray(e) && re.test(scalarText(e).trim())) visit(j);
    } else if (
      isPlainObject(e) &&
      e[key] !== undefined &&
      e[key] !== null &&
      !isPlainObject(e[key]) &&
      !Array.isArray(e[key]) &&
      re.test(scalarText(e[key]).trim())
    ) {
      visit(j);
    }
  }
}
