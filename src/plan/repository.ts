import type { FileTree } from "../core/file-tree.js";
import type { GitRepository } from "../core/flux.js";
import { renderFlux } from "../render/index.js";
import { highestTag, type RepositoryInput } from "../source/index.js";
import { discoverSources, planFleet, type PlanResult } from "./fleet-plan.js";
import type { Layout } from "./layout.js";

/** A plan with the tree each of its GitRepositories was planned from (by name), for rendering its units. */
export interface RepositoryPlan {
  result: PlanResult;
  trees: Record<string, FileTree>;
  layout: Layout;
}

/**
 * Plans a repository at `ref` (its work tree when absent), fetching each source's tree. The only
 * planning step that reads: it reads through the RepositoryInput it is given (the source stage);
 * discoverSources and planFleet stay pure.
 */
export async function planRepository(
  repo: RepositoryInput,
  ref: string | undefined,
  infer = true,
): Promise<RepositoryPlan> {
  const main = await repo.tree(ref);
  const releaseTag = await repo.releaseTag();
  const sources = discoverSources(main, {
    ...(repo.url ? { repoUrl: repo.url } : {}),
    ...(releaseTag ? { releaseTag } : {}),
    defaultBranch: await repo.defaultBranch(),
    render: renderFlux,
  });
  const trees: Record<string, FileTree> = { main };
  const mainSource = sources.gitRepositories.find((g) => g.metadata.name === "main");
  for (const g of sources.gitRepositories) {
    if (g.metadata.name === "main") continue;
    // A source that follows main's own ref (the release GitRepository before its first tag, say) is at the planned revision too.
    trees[g.metadata.name] = mainSource && followsSameRef(g, mainSource) ? main : await treeOfSource(repo, g, main);
  }
  return {
    result: planFleet(sources, trees, { render: renderFlux, inferDependencies: infer }),
    trees,
    layout: sources.layout,
  };
}

/** Whether two GitRepositories track the same ref of the same repository, by Flux's precedence (commit > name > semver > tag > branch). */
function followsSameRef(a: GitRepository, b: GitRepository): boolean {
  const effective = (g: GitRepository): string => {
    const r = g.spec.ref ?? {};
    if (r.commit) return `commit:${r.commit}`;
    if (r.name) return `name:${r.name}`;
    if (r.semver) return `semver:${r.semver}`;
    if (r.tag) return `tag:${r.tag}`;
    return `branch:${r.branch ?? "master"}`;
  };
  return a.spec.url === b.spec.url && effective(a) === effective(b);
}

async function treeOfSource(repo: RepositoryInput, g: GitRepository, main: FileTree): Promise<FileTree> {
  const r = g.spec.ref ?? {};
  const ref = r.commit ?? r.name ?? r.tag ?? r.branch;
  if (r.semver) {
    const tag = highestTag(await repo.tags(), r.semver);
    return tag ? repo.tree(tag) : main;
  }
  if (!ref) return main;
  try {
    return await repo.tree(ref);
  } catch {
    // A source whose ref this checkout does not have (another repository, an unfetched tag) is planned from main's files.
    return main;
  }
}
