import { InvalidInputError } from "../../core/errors.js";
import { deepClone, deepEqual, isPlainObject, type KubeObject } from "../../core/object.js";

interface Operation {
  op: "add" | "remove" | "replace" | "move" | "copy" | "test";
  path: string;
  from?: string;
  value?: unknown;
}

/**
 * Applies a JSON 6902 patch (add, remove, replace, move, copy, test; RFC 6901 pointers with `~0`,
 * `~1` and `-` for append). Errors name the operation's index and path. Returns a new object.
 */
export function applyJson6902(target: KubeObject, ops: unknown[], context: { file?: string; object?: string }): KubeObject {
  const doc = { root: deepClone(target) as unknown };
  ops.forEach((raw, index) => {
    const where = { ...context, field: `[${index}]` };
    if (!isPlainObject(raw) || typeof raw.op !== "string" || typeof raw.path !== "string") {
      throw new InvalidInputError("each operation needs 'op' and 'path'", where);
    }
    const op = raw as unknown as Operation;
    try {
      applyOne(doc, op);
    } catch (error) {
      if (error instanceof InvalidInputError) throw error;
      throw new InvalidInputError(`${op.op} ${op.path}: ${(error as Error).message}`, where);
    }
  });
  return doc.root as KubeObject;
}

function tokens(pointer: string): string[] {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) throw new Error(`'${pointer}' is not a JSON pointer (it must start with '/')`);
  return pointer
    .slice(1)
    .split("/")
    .map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function parentOf(doc: { root: unknown }, pointer: string): { holder: unknown; key: string } {
  const parts = tokens(pointer);
  if (parts.length === 0) return { holder: doc, key: "root" };
  let node: unknown = doc.root;
  for (const part of parts.slice(0, -1)) {
    if (Array.isArray(node)) node = node[index(node, part, false)];
    else if (isPlainObject(node) && part in node) node = node[part];
    else throw new Error(`path does not exist`);
  }
  return { holder: node, key: parts[parts.length - 1]! };
}

function index(list: unknown[], token: string, forAdd: boolean): number {
  if (forAdd && token === "-") return list.length;
  if (!/^(0|[1-9]\d*)$/.test(token)) throw new Error(`'${token}' is not a list index`);
  const i = Number(token);
  if (i > list.length || (!forAdd && i >= list.length)) throw new Error(`index ${i} is out of range`);
  return i;
}

function get(doc: { root: unknown }, pointer: string): unknown {
  const { holder, key } = parentOf(doc, pointer);
  if (Array.isArray(holder)) return holder[index(holder, key, false)];
  if (isPlainObject(holder) && key in holder) return holder[key];
  throw new Error("path does not exist");
}

function add(doc: { root: unknown }, pointer: string, value: unknown): void {
  const { holder, key } = parentOf(doc, pointer);
  if (Array.isArray(holder)) holder.splice(index(holder, key, true), 0, value);
  else if (isPlainObject(holder)) holder[key] = value;
  else throw new Error("parent is not a map or list");
}

function remove(doc: { root: unknown }, pointer: string): unknown {
  const { holder, key } = parentOf(doc, pointer);
  if (Array.isArray(holder)) return holder.splice(index(holder, key, false), 1)[0];
  if (isPlainObject(holder) && key in holder) {
    const value = holder[key];
    delete holder[key];
    return value;
  }
  throw new Error("path does not exist");
}

function applyOne(doc: { root: unknown }, op: Operation): void {
  switch (op.op) {
    case "add":
      return add(doc, op.path, deepClone(op.value));
    case "remove":
      remove(doc, op.path);
      return;
    case "replace":
      get(doc, op.path);
      remove(doc, op.path);
      return add(doc, op.path, deepClone(op.value));
    case "move": {
      if (op.from === undefined) throw new Error("move needs 'from'");
      const value = remove(doc, op.from);
      return add(doc, op.path, value);
    }
    case "copy":
      if (op.from === undefined) throw new Error("copy needs 'from'");
      return add(doc, op.path, deepClone(get(doc, op.from)));
    case "test":
      if (!deepEqual(get(doc, op.path), op.value)) throw new Error("test failed: the value differs");
      return;
    default:
      throw new Error(`unknown op '${String((op as { op: unknown }).op)}'`);
  }
}
