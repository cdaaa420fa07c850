import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { MemoryTree } from "../../src/core/file-tree.js";
import type { KubeObject } from "../../src/core/object.js";
import type { RenderFn } from "../../src/plan/index.js";
import { renderFlux } from "../../src/render/index.js";

export const REFERENCE = join(import.meta.dirname, "fixtures", "reference");

/** A folder read into memory, minus files `drop` rejects, plus `extra` files. */
export function treeFrom(
  dir: string,
  opts: { drop?: (path: string) => boolean; extra?: Record<string, string> } = {},
): MemoryTree {
  const files: Array<[string, string]> = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else {
        const rel = relative(dir, p);
        if (!opts.drop?.(rel)) files.push([rel, readFileSync(p, "utf8")]);
      }
    }
  };
  walk(dir);
  return new MemoryTree(dir, [...files, ...Object.entries(opts.extra ?? {})]);
}

/** The real renderer, counting how often it runs. */
export function countingRender(): { render: RenderFn; calls: () => number } {
  let calls = 0;
  return {
    render: (tree, path, spec): KubeObject[] => {
      calls++;
      return renderFlux(tree, path, spec);
    },
    calls: () => calls,
  };
}
