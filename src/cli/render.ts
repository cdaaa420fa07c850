import { execFileSync } from "node:child_process";
import { relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { InvalidInputError } from "../core/errors.js";
import { DiskTree } from "../core/file-tree.js";
import { toYamlStream } from "../core/yaml.js";
import { render } from "../render/index.js";

/**
 * `flotilla render PATH [--root DIR] [--substitute k=v]... [--json]`: prints what
 * `kubectl kustomize PATH` (or `flux build` for a folder without a kustomization) prints.
 * `--root` bounds what may be read; by default the git work tree that holds PATH, else PATH.
 */
export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { root: { type: "string" }, substitute: { type: "string", multiple: true }, json: { type: "boolean" } },
  });
  const target = resolve(positionals[0] ?? ".");
  const root = resolve(values.root ?? gitTopLevel(target) ?? target);
  const rel = relative(root, target);
  if (rel.startsWith(".."))
    throw new InvalidInputError(`PATH '${positionals[0]}' is outside --root '${root}'`, { field: "--root" });
  let substitute: Record<string, string> | undefined;
  for (const pair of values.substitute ?? []) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new InvalidInputError(`--substitute '${pair}' is not NAME=value`, { field: "--substitute" });
    (substitute ??= {})[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const objects = render(new DiskTree(root), rel.split("\\").join("/"), substitute ? { substitute } : {});
  process.stdout.write(values.json ? `${JSON.stringify(objects, null, 2)}\n` : toYamlStream(objects));
  return 0;
}

function gitTopLevel(dir: string): string | undefined {
  try {
    return (
      execFileSync("git", ["-C", dir, "rev-parse", "--show-toplevel"], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
      }).trim() || undefined
    );
  } catch {
    return undefined;
  }
}
