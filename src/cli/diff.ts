import { parseArgs } from "node:util";
import { InvalidInputError } from "../core/errors.js";
import type { FileTree } from "../core/file-tree.js";
import type { KubeObject } from "../core/object.js";
import { planRepositoryWithTrees } from "./plan.js";
import { openRepositoryInput, type RepositoryInput } from "./repository-input.js";
import { diffFleet, type FleetDiff } from "./workflow/fleet-diff.js";
import { formatDiffMarkdown, formatDiffText } from "./workflow/format-diff.js";
import { renderUnits } from "./workflow/render-units.js";

/**
 * `flotilla diff [--repo DIR|URL] --base REF --head REF [--format text|md|json] [--cluster NAME]`:
 * per cluster and unit, what the head revision changes compared with the base — offline, from git
 * alone. Exit 0 no difference, 1 differences, 2 error, as `flux diff`.
 */
export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { repo: { type: "string" }, base: { type: "string" }, head: { type: "string" }, format: { type: "string" }, json: { type: "boolean" }, cluster: { type: "string", multiple: true } },
  });
  if (!values.base || !values.head) throw new InvalidInputError("--base and --head are required", { field: values.base ? "--head" : "--base" });
  const format = values.json ? "json" : (values.format ?? "text");
  if (!["text", "md", "json"].includes(format)) throw new InvalidInputError(`--format must be text, md or json, not '${format}'`, { field: "--format" });
  const repo = await openRepositoryInput(values.repo);
  const diff = await diffRevisions(repo, values.base, values.head, values.cluster);
  process.stdout.write(format === "json" ? `${JSON.stringify(diff, null, 2)}\n` : format === "md" ? formatDiffMarkdown(diff) : formatDiffText(diff));
  return diff.clusters.length > 0 ? 1 : 0;
}

/** Plans and renders both revisions and compares them, sharing renders of identical inputs. */
export async function diffRevisions(repo: RepositoryInput, base: string, head: string, clusters?: string[]): Promise<FleetDiff> {
  const cache = new Map<FileTree, Map<string, KubeObject[]>>();
  const filter = clusters?.length ? (c: string) => clusters.includes(c) : undefined;
  const before = await planRepositoryWithTrees(repo, base, false);
  const after = await planRepositoryWithTrees(repo, head, false);
  return diffFleet(renderUnits(before.result.objects, before.trees, cache, filter), renderUnits(after.result.objects, after.trees, cache, filter));
}
