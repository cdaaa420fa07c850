import type { FileTree } from "../core/file-tree.js";
import type { KubeObject } from "../core/object.js";
import { planRepository } from "../plan/index.js";
import type { RepositoryInput } from "../source/index.js";
import { diffFleet, type FleetDiff } from "./fleet-diff.js";
import { renderUnits } from "./render-units.js";

/** Plans and renders both revisions and compares them, sharing renders of identical inputs; `clusters` keeps only those. */
export async function diffRevisions(
  repo: RepositoryInput,
  base: string,
  head: string,
  clusters?: string[],
): Promise<FleetDiff> {
  const cache = new Map<FileTree, Map<string, KubeObject[]>>();
  const filter = clusters?.length ? (c: string) => clusters.includes(c) : undefined;
  const before = await planRepository(repo, base, false);
  const after = await planRepository(repo, head, false);
  return diffFleet(
    renderUnits(before.result.objects, before.trees, cache, filter),
    renderUnits(after.result.objects, after.trees, cache, filter),
  );
}
