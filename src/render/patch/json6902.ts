import { InvalidInputError } from "../../core/errors.js";
import { deepClone, deepEqual, isPlainObject, type KubeObject } from "../../core/object.js";

// JSON 6902 as kustomize v5.5 applies it (evanphx/json-patch v4): pointers are split on "/" with
// the part before the first "/" dropped, `~1` and `~0` unescaped; "-" appends; a negative index
// counts from the end; `replace` of a missing map key sets it; `copy` from a missing map key copies
// null; `test` of a missing path passes only against null.

type Json = Record<string, unknown>;
type Container = Json | unknown[];

/** A failure of one operation; applyJson6902 adds the operation's index, op, path and file. */
class OperationError extends Error {}

/**
 * Applies a JSON 6902 patch (add, remove, replace, move, copy, test; RFC 6901 pointers with `~0`,
 * `~1` and `-` for append). Errors name the operation's index, op and path, and the file and
 * object of `context`. Returns a new object; the target and the operations are not changed.
 */
export function applyJson6902(
  target: KubeObject,
  ops: unknown[],
  context: { file?: string; object?: string },
): KubeObject {
  const root = deepClone(target) as Json;
  ops.forEach((raw, index) => {
    const location = { ...context, field: `[${index}]` };
    if (!isPlainObject(raw)) throw new InvalidInputError(`JSON 6902 operation ${index} is not a map`, location);
    const op = raw.op;
    const path = raw.path;
    if (typeof op !== "string") throw new InvalidInputError(`JSON 6902 operation ${index} has no 'op'`, location);
    if (typeof path !== "string")
      throw new InvalidInputError(`JSON 6902 operation ${index} (${op}) has no 'path'`, location);
    try {
      applyOne(root, op, path, raw);
    } catch (error) {
      if (!(error instanceof OperationError)) throw error;
      throw new InvalidInputError(`JSON 6902 operation ${index} (${op} ${path}): ${error.message}`, location);
    }
  });
  return root as KubeObject;
}

function applyOne(root: Json, op: string, path: string, raw: Json): void {
  switch (op) {
    case "add":
      return add(root, path, deepClone(raw.value ?? null));
    case "remove":
      remove(root, path);
      return;
    case "replace":
      return replace(root, path, deepClone(raw.value ?? null));
    case "move":
      return add(root, path, remove(root, fromOf(raw)));
    case "copy":
      return add(root, path, deepClone(get(root, fromOf(raw)) ?? null));
    case "test": {
      if (!("value" in raw)) throw new OperationError("a test needs a 'value'");
      const actual = get(root, path);
      if (actual === undefined ? raw.value !== null : !deepEqual(actual, raw.value))
        throw new OperationError("test failed: the value differs");
      return;
    }
    default:
      throw new OperationError(`unknown op '${op}' (expected add, remove, replace, move, copy or test)`);
  }
}

function fromOf(raw: Json): string {
  if (typeof raw.from !== "string") throw new OperationError("needs a 'from' path");
  return raw.from;
}

function unescape(token: string): string {
  return token.replace(/~1/g, "/").replace(/~0/g, "~");
}

/** The container that holds the pointer's last token, and that token; evanphx's findObject. */
function locate(root: Json, pointer: string): { container: Container; key: string } {
  const parts = pointer.split("/");
  if (parts.length < 2) throw new OperationError(`'${pointer}' is not a JSON pointer to a field (it must contain '/')`);
  let node: unknown = root;
  for (let i = 1; i < parts.length - 1; i++) {
    const token = unescape(parts[i]!);
    const next = Array.isArray(node) ? node[existingIndex(node, token)] : isPlainObject(node) ? node[token] : undefined;
    if (!isPlainObject(next) && !Array.isArray(next))
      throw new OperationError(`the object has no map or list at '${parts.slice(0, i + 1).join("/")}'`);
    node = next;
  }
  return { container: node as Container, key: unescape(parts[parts.length - 1]!) };
}

function parseIndex(token: string): number {
  if (!/^[+-]?\d+$/.test(token)) throw new OperationError(`'${token}' is not a list index`);
  return Number(token);
}

/** The index of an existing element; negative tokens count from the end. */
function existingIndex(list: unknown[], token: string): number {
  let index = parseIndex(token);
  if (index < 0) index += list.length;
  if (index < 0 || index >= list.length)
    throw new OperationError(`index ${token} is out of range (the list has ${list.length} elements)`);
  return index;
}

function get(root: Json, pointer: string): unknown {
  const { container, key } = locate(root, pointer);
  return Array.isArray(container) ? container[existingIndex(container, key)] : container[key];
}

function add(root: Json, pointer: string, value: unknown): void {
  const { container, key } = locate(root, pointer);
  if (!Array.isArray(container)) {
    container[key] = value;
    return;
  }
  if (key === "-") {
    container.push(value);
    return;
  }
  let index = parseIndex(key);
  if (index < 0) index += container.length + 1;
  if (index < 0 || index > container.length)
    throw new OperationError(`index ${key} is out of range (the list has ${container.length} elements)`);
  container.splice(index, 0, value);
}

function remove(root: Json, pointer: string): unknown {
  const { container, key } = locate(root, pointer);
  if (Array.isArray(container)) return container.splice(existingIndex(container, key), 1)[0];
  if (!(key in container)) throw new OperationError(`there is no '${key}' to remove`);
  const value = container[key];
  delete container[key];
  return value;
}

function replace(root: Json, pointer: string, value: unknown): void {
  const { container, key } = locate(root, pointer);
  if (Array.isArray(container)) container[existingIndex(container, key)] = value;
  else container[key] = value;
}
