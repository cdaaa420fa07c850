import { isPlainObject } from "../core/object.js";

/**
 * kustomize's field paths for replacements and vars: dot-separated, `[key=value]` picks a list
 * element, a number indexes a list, `*` matches every element, and `\.` escapes a dot
 * (`metadata.annotations.config\.kubernetes\.io/x`).
 */
export function splitFieldPath(path: string): string[] {
  const out: string[] = [];
  let current = "";
  let depth = 0;
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    if (c === "\\" && path[i + 1] === ".") {
      current += ".";
      i++;
    } else if (c === "[") {
      if (current) out.push(current);
      current = "[";
      depth++;
    } else if (c === "]") {
      current += "]";
      depth--;
      out.push(current);
      current = "";
      if (path[i + 1] === ".") i++;
    } else if (c === "." && depth === 0) {
      out.push(current);
      current = "";
    } else current += c;
  }
  if (current) out.push(current);
  return out.filter((s) => s !== "");
}

/** The values at a field path (several when `*` or a list selector matches several). */
export function getAtPath(root: unknown, segments: readonly string[]): unknown[] {
  let nodes: unknown[] = [root];
  for (const seg of segments) {
    const next: unknown[] = [];
    for (const node of nodes) {
      if (/^\[\d+\]$/.test(seg)) {
        if (Array.isArray(node) && Number(seg.slice(1, -1)) < node.length) next.push(node[Number(seg.slice(1, -1))]);
      } else if (seg.startsWith("[") && seg.endsWith("]")) {
        if (!Array.isArray(node)) continue;
        const [k, v] = seg.slice(1, -1).split("=", 2) as [string, string | undefined];
        for (const item of node) if (isPlainObject(item) && v !== undefined && String(item[k]) === v) next.push(item);
      } else if (Array.isArray(node)) {
        if (seg === "*") next.push(...node);
        else if (/^\d+$/.test(seg) && Number(seg) < node.length) next.push(node[Number(seg)]);
        else for (const item of node) if (isPlainObject(item) && seg in item) next.push(item[seg]);
      } else if (isPlainObject(node)) {
        if (seg === "*") next.push(...Object.values(node));
        else if (seg in node) next.push(node[seg]);
      }
    }
    nodes = next;
  }
  return nodes;
}

/**
 * Sets the value at a field path; `create` makes missing maps (and list elements selected by
 * `[k=v]`). Returns how many places were set.
 */
export function setAtPath(
  root: unknown,
  segments: readonly string[],
  make: (old: unknown) => unknown,
  create: boolean,
): number {
  let count = 0;
  const walk = (node: unknown, i: number): void => {
    const raw = segments[i]!;
    const seg = /^\[\d+\]$/.test(raw) ? raw.slice(1, -1) : raw;
    const last = i === segments.length - 1;
    if (seg.startsWith("[") && seg.endsWith("]")) {
      if (!Array.isArray(node)) return;
      const [k, v] = seg.slice(1, -1).split("=", 2) as [string, string | undefined];
      let matched = false;
      for (let j = 0; j < node.length; j++) {
        const item = node[j];
        if (!isPlainObject(item) || v === undefined || String(item[k]) !== v) continue;
        matched = true;
        if (last) {
          node[j] = make(item);
          count++;
        } else walk(item, i + 1);
      }
      if (!matched && create && v !== undefined) {
        const item: Record<string, unknown> = { [k]: v };
        node.push(item);
        if (last) {
          node[node.length - 1] = make(item);
          count++;
        } else walk(item, i + 1);
      }
      return;
    }
    if (Array.isArray(node)) {
      if (seg === "*") {
        for (let j = 0; j < node.length; j++) {
          if (last) {
            node[j] = make(node[j]);
            count++;
          } else walk(node[j], i + 1);
        }
      } else if (/^\d+$/.test(seg)) {
        const j = Number(seg);
        // With `create`, kustomize appends an element at index == length; a larger index stays an error.
        if (j === node.length && create)
          node.push(last ? undefined : /^\d+$/.test(segments[i + 1]!) || segments[i + 1]!.startsWith("[") ? [] : {});
        if (j >= node.length) return;
        if (last) {
          node[j] = make(node[j]);
          count++;
        } else walk(node[j], i + 1);
      }
      return;
    }
    if (!isPlainObject(node)) return;
    if (seg === "*") {
      for (const key of Object.keys(node)) {
        if (last) {
          node[key] = make(node[key]);
          count++;
        } else walk(node[key], i + 1);
      }
      return;
    }
    if (!(seg in node) || node[seg] === null) {
      if (!create) return;
      if (last) {
        node[seg] = make(undefined);
        count++;
        return;
      }
      const nextSeg = segments[i + 1]!;
      node[seg] = nextSeg.startsWith("[") || /^\d+$/.test(nextSeg) ? [] : {};
    }
    if (last) {
      node[seg] = make(node[seg]);
      count++;
    } else walk(node[seg], i + 1);
  };
  if (segments.length > 0) walk(root, 0);
  return count;
}
