import { isPlainObject } from "../core/object.js";

/**
 * Visits the values at a field-spec path inside an object. Lists met on the way are walked element
 * by element (kustomize's implicit traversal); a `[]` suffix says so explicitly and `[k=v]` picks the
 * elements whose field `k` equals `v`. With `create`, missing maps on the way (and the last field,
 * as an empty map) are created; a null met at a `[]` segment becomes an empty list. `visit` receives the holder and key of each value and returns the
 * new value, or undefined to leave it as it is.
 */
export function visitPath(
  root: unknown,
  path: readonly string[],
  visit: (holder: Record<string, unknown> | unknown[], key: string | number, value: unknown) => unknown,
  create = false,
): void {
  walk(root, path, 0, visit, create);
}

function parseSegment(segment: string): { name: string; list: boolean; match?: [string, string] } {
  const bracket = segment.indexOf("[");
  if (bracket < 0 || !segment.endsWith("]")) return { name: segment, list: false };
  const name = segment.slice(0, bracket);
  const inner = segment.slice(bracket + 1, -1);
  if (inner === "") return { name, list: true };
  const eq = inner.indexOf("=");
  return eq < 0 ? { name, list: true } : { name, list: true, match: [inner.slice(0, eq), inner.slice(eq + 1)] };
}

const segmentCache = new Map<string, ReturnType<typeof parseSegment>>();
function segmentOf(s: string): ReturnType<typeof parseSegment> {
  let parsed = segmentCache.get(s);
  if (!parsed) segmentCache.set(s, (parsed = parseSegment(s)));
  return parsed;
}

function walk(
  node: unknown,
  path: readonly string[],
  index: number,
  visit: (holder: Record<string, unknown> | unknown[], key: string | number, value: unknown) => unknown,
  create: boolean,
): void {
  if (Array.isArray(node)) {
    for (const item of node) walk(item, path, index, visit, create);
    return;
  }
  if (!isPlainObject(node)) return;
  const seg = segmentOf(path[index]!);
  const last = index === path.length - 1;
  let value = node[seg.name];
  if (value === undefined || value === null) {
    // A `[]` segment says the field is a list: kustomize's field-spec filter turns a present null into
    // an empty list (with or without create), and never creates a missing one.
    if (value === null && seg.list) node[seg.name] = [];
    if (!create || seg.list) return;
    if (last) {
      const created = visit(node, seg.name, undefined);
      if (created !== undefined) node[seg.name] = created;
      return;
    }
    node[seg.name] = value = {};
  }
  if (seg.list && Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      if (seg.match && !(isPlainObject(item) && String(item[seg.match[0]]) === seg.match[1])) continue;
      if (last) {
        const next = visit(value, i, item);
        if (next !== undefined) value[i] = next;
      } else walk(item, path, index + 1, visit, create);
    }
    return;
  }
  if (last) {
    const next = visit(node, seg.name, value);
    if (next !== undefined) node[seg.name] = next;
    return;
  }
  walk(value, path, index + 1, visit, create);
}
