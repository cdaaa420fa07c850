import { parseArgs } from "node:util";
import { InvalidInputError } from "../core/errors.js";
import { highestTag, patchIdentity, type CommitInfo, type LocalRepository } from "../source/index.js";
import { diffRevisions } from "./diff.js";
import { openRepositoryInput } from "../source/index.js";
import { forgeLinks } from "../release/forge.js";
import { bumpFor, nextVersion } from "../release/next-version.js";
import { buildReleaseNotes, formatReleaseNotesMarkdown, type HistoryCommit, type ImpactRow } from "../release/release-notes.js";

/**
 * `flotilla release-notes FROM..TO [--repo DIR] [--format md|json]`: what TO adds over FROM,
 * grouped by commit type, with the impact on each environment and cluster.
 * `flotilla release-notes --next`: the next semantic version from the commits since the last tag.
 */
export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { repo: { type: "string" }, format: { type: "string" }, json: { type: "boolean" }, next: { type: "boolean" } } });
  const repo = await openRepositoryInput(values.repo);
  if (!repo.local) throw new InvalidInputError("release notes read the history of a local clone; pass --repo DIR", { field: "--repo" });
  const format = values.json ? "json" : (values.format ?? "md");
  if (values.next) {
    const last = highestTag(await repo.local.tags(), "*");
    const commits = await repo.local.log(last, "HEAD");
    const bump = bumpFor(commits);
    // Nothing to release prints no version, so `v=$(flotilla release-notes --next) && git tag "$v"` stops there.
    const next = !last ? "v0.1.0" : bump === "none" ? null : nextVersion(last, bump);
    if (format === "json") process.stdout.write(`${JSON.stringify({ current: last ?? null, bump, next, commits: commits.length })}\n`);
    else if (next) process.stdout.write(`${next}\n`);
    else process.stderr.write(`nothing to release: ${nothingToRelease(last ?? "", commits.length)}\n`);
    return next ? 0 : 1;
  }
  const range = positionals[0];
  const match = range ? /^(.+?)\.\.(.+)$/.exec(range) : null;
  if (!match) throw new InvalidInputError("give the range as FROM..TO (for example v0.0.2..v0.0.3)", { field: "FROM..TO" });
  const [, from, to] = match as unknown as [string, string, string];
  const notes = await releaseNotes(repo.local, from, to, repo.url);
  const impact = await impactOf(repo, from, to);
  const full = { ...notes, impact };
  process.stdout.write(format === "json" ? `${JSON.stringify(full, null, 2)}\n` : formatReleaseNotesMarkdown(full, repo.url ? forgeLinks(repo.url) : undefined));
  return 0;
}

function nothingToRelease(last: string, commits: number): string {
  if (commits === 0) return `HEAD is ${last}`;
  return `the ${commits} commit(s) since ${last} are chore, docs, ci or test only (feat → minor, fix and other types → patch, '!' or BREAKING CHANGE → major)`;
}

/** The release notes of FROM..TO from the local history, matching shipped work by PR number and patch. */
export async function releaseNotes(local: LocalRepository, from: string, to: string, url?: string) {
  const [fromSha, toSha] = [await local.resolve(from), await local.resolve(to)];
  if (fromSha === toSha) throw new InvalidInputError(`${from} and ${to} are the same commit`, { field: "FROM..TO" });
  const candidates = await local.log(from, to);
  const fromOnly = await local.log(to, from);
  if (candidates.length === 0) throw new InvalidInputError(`${from} is not older than ${to}: ${to} adds no commit`, { field: "FROM..TO" });
  const shipped = await local.log(undefined, from);
  const cache = {};
  const withPatch = async (c: CommitInfo): Promise<HistoryCommit> => ({ sha: c.sha, title: c.title, body: c.body, author: c.author, ...(c.parents.length <= 1 ? { patchId: await patchIdentity(local.gitdir, c.sha, cache) } : {}) });
  const fromOnlyIds = new Set(fromOnly.map((c) => c.sha));
  const links = url ? forgeLinks(url) : undefined;
  return buildReleaseNotes({
    from,
    to,
    candidates: await Promise.all(candidates.map(withPatch)),
    // Commits only FROM has (a tag left on a rewritten history) need their patches compared; shared ancestry does not.
    shipped: await Promise.all(shipped.map((c) => (fromOnlyIds.has(c.sha) ? withPatch(c) : Promise.resolve<HistoryCommit>({ sha: c.sha, title: c.title, author: c.author })))),
    ...(links ? { links } : {}),
  });
}

async function impactOf(repo: Awaited<ReturnType<typeof openRepositoryInput>>, from: string, to: string): Promise<ImpactRow[]> {
  const diff = await diffRevisions(repo, from, to);
  const rows: ImpactRow[] = [];
  for (const c of diff.clusters) {
    for (const u of c.units) {
      const count = (k: "added" | "changed" | "removed") => u.objects.filter((o) => o.change === k).length;
      rows.push({ environment: c.environment ?? (c.cluster === "mgmt" ? "mgmt" : "-"), cluster: c.cluster, unit: u.unit.split("/")[1] ?? u.unit, added: count("added"), changed: count("changed"), removed: count("removed") });
    }
  }
  return rows;
}
