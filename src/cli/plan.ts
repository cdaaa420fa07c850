import { parseArgs } from "node:util";
import type { FileTree } from "../core/file-tree.js";
import type { GitRepository, Kustomization } from "../core/flux.js";
import { discoverSources, planFleet, cleanPath } from "../plan/index.js";
import { assertFleetLayout } from "../plan/missing-layout.js";
import { renderFlux } from "../render/index.js";
import { formatTable } from "../status/table.js";
import { openRepositoryInput } from "../source/index.js";

/**
 * `flotilla plan [--repo DIR|URL] [--ref REF] [--json]`: the fleet's units as a table
 * (NAMESPACE NAME SOURCE PATH DEPENDS-ON), or with --json the GitRepository and Kustomization
 * objects. Sorted, so the output can be diffed in review. Warnings go to stderr.
 */
export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { repo: { type: "string" }, ref: { type: "string" }, json: { type: "boolean" }, "no-infer": { type: "boolean" } } });
  const repo = await openRepositoryInput(values.repo);
  const { result, trees, layout } = await planRepositoryWithTrees(repo, values.ref, !values["no-infer"]);
  // No fleet is an error here (release notes and diff of such a repository are fine: no impact).
  assertFleetLayout(trees.main!, layout);
  for (const w of result.warnings) process.stderr.write(`warning: ${w}\n`);
  // Units that do not render are still planned (and printed); each error is named, and the exit code says so.
  const reportErrors = (): number => {
    for (const e of result.errors) process.stderr.write(`error: unit ${e.unit} (${e.path}) ${e.message}\n`);
    return result.errors.length > 0 ? 2 : 0;
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result.objects, null, 2)}\n`);
    return reportErrors();
  }
  const rows = result.objects
    .filter((o): o is Kustomization => o.kind === "Kustomization")
    .map((k) => ({
      namespace: k.metadata.namespace,
      name: k.metadata.name,
      source: k.spec.sourceRef.name,
      path: `./${cleanPath(k.spec.path)}`,
      "depends-on": (k.spec.dependsOn ?? []).map((d) => (d.namespace ? `${d.namespace}/${d.name}` : d.name)).join(",") || "-",
    }));
  process.stdout.write(formatTable(rows, ["namespace", "name", "source", "path", "depends-on"]));
  return reportErrors();
}

/** Plans a repository input at `ref` (its work tree when absent), fetching each source's tree. */
export async function planRepository(repo: Awaited<ReturnType<typeof openRepositoryInput>>, ref: string | undefined, infer = true) {
  return (await planRepositoryWithTrees(repo, ref, infer)).result;
}

/** Like planRepository, also returning the tree of each GitRepository by name (for rendering units). */
export async function planRepositoryWithTrees(repo: Awaited<ReturnType<typeof openRepositoryInput>>, ref: string | undefined, infer = true) {
  const main = await repo.tree(ref);
  const releaseTag = await repo.releaseTag();
  const sources = discoverSources(main, { ...(repo.url ? { repoUrl: repo.url } : {}), ...(releaseTag ? { releaseTag } : {}), defaultBranch: await repo.defaultBranch(), render: renderFlux });
  const trees: Record<string, FileTree> = { main };
  const mainSource = sources.gitRepositories.find((g) => g.metadata.name === "main");
  for (const g of sources.gitRepositories) {
    if (g.metadata.name === "main") continue;
    // A source that follows main's own ref (the release GitRepository before its first tag, say) is at the planned revision too.
    trees[g.metadata.name] = mainSource && followsSameRef(g, mainSource) ? main : await treeOfSource(repo, g, main);
  }
  return { result: planFleet(sources, trees, { render: renderFlux, inferDependencies: infer }), trees, layout: sources.layout };
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

async function treeOfSource(repo: Awaited<ReturnType<typeof openRepositoryInput>>, g: GitRepository, main: FileTree): Promise<FileTree> {
  const r = g.spec.ref ?? {};
  const ref = r.commit ?? r.name ?? r.tag ?? r.branch;
  if (r.semver) {
    const { highestTag } = await import("../source/index.js");
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
