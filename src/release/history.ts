import { InvalidInputError } from "../core/errors.js";
import { diffRevisions } from "../diff/index.js";
import {
  highestTag,
  patchIdentity,
  type CommitInfo,
  type LocalRepository,
  type RepositoryInput,
} from "../source/index.js";
import { forgeLinks } from "./forge.js";
import { bumpFor, nextVersion, type Bump } from "./next-version.js";
import { buildReleaseNotes, type HistoryCommit, type ImpactRow, type ReleaseNotes } from "./release-notes.js";

/** The release notes of FROM..TO from the local history, matching shipped work by PR number and patch. */
export async function releaseNotes(
  local: LocalRepository,
  from: string,
  to: string,
  url?: string,
): Promise<ReleaseNotes> {
  const [fromSha, toSha] = [await local.resolve(from), await local.resolve(to)];
  if (fromSha === toSha) throw new InvalidInputError(`${from} and ${to} are the same commit`, { field: "FROM..TO" });
  const candidates = await local.log(from, to);
  const fromOnly = await local.log(to, from);
  if (candidates.length === 0)
    throw new InvalidInputError(`${from} is not older than ${to}: ${to} adds no commit`, { field: "FROM..TO" });
  const shipped = await local.log(undefined, from);
  const cache = {};
  const withPatch = async (c: CommitInfo): Promise<HistoryCommit> => ({
    sha: c.sha,
    title: c.title,
    body: c.body,
    author: c.author,
    ...(c.parents.length <= 1 ? { patchId: await patchIdentity(local.gitdir, c.sha, cache) } : {}),
  });
  const fromOnlyIds = new Set(fromOnly.map((c) => c.sha));
  const links = url ? forgeLinks(url) : undefined;
  return buildReleaseNotes({
    from,
    to,
    candidates: await Promise.all(candidates.map(withPatch)),
    // Commits only FROM has (a tag left on a rewritten history) need their patches compared; shared ancestry does not.
    shipped: await Promise.all(
      shipped.map((c) =>
        fromOnlyIds.has(c.sha)
          ? withPatch(c)
          : Promise.resolve<HistoryCommit>({ sha: c.sha, title: c.title, author: c.author }),
      ),
    ),
    ...(links ? { links } : {}),
  });
}

/** `releaseNotes` of a local clone, with the impact on each environment, cluster and unit (the offline fleet diff of FROM..TO). */
export async function releaseNotesWithImpact(repo: RepositoryInput, from: string, to: string): Promise<ReleaseNotes> {
  if (!repo.local)
    throw new InvalidInputError("release notes read the history of a local clone; pass --repo DIR", {
      field: "--repo",
    });
  const notes = await releaseNotes(repo.local, from, to, repo.url);
  return { ...notes, impact: await impactOf(repo, from, to) };
}

async function impactOf(repo: RepositoryInput, from: string, to: string): Promise<ImpactRow[]> {
  const diff = await diffRevisions(repo, from, to);
  const rows: ImpactRow[] = [];
  for (const c of diff.clusters) {
    for (const u of c.units) {
      const count = (k: "added" | "changed" | "removed") => u.objects.filter((o) => o.change === k).length;
      rows.push({
        environment: c.environment ?? (c.cluster === "mgmt" ? "mgmt" : "-"),
        cluster: c.cluster,
        unit: u.unit.split("/")[1] ?? u.unit,
        added: count("added"),
        changed: count("changed"),
        removed: count("removed"),
      });
    }
  }
  return rows;
}

/** The next release after the highest tag: `next` is null, with the reason, when the commits since call for none. */
export interface NextRelease {
  current: string | null;
  bump: Bump;
  next: string | null;
  commits: number;
  /** Why there is nothing to release, when `next` is null. */
  reason?: string;
}

/** The next semantic version from the commit titles since the highest tag (`v0.1.0` when there is none). */
export async function nextRelease(local: LocalRepository): Promise<NextRelease> {
  const last = highestTag(await local.tags(), "*");
  const commits = await local.log(last, "HEAD");
  const bump = bumpFor(commits);
  const next = !last ? "v0.1.0" : bump === "none" ? null : nextVersion(last, bump);
  return {
    current: last ?? null,
    bump,
    next,
    commits: commits.length,
    ...(next ? {} : { reason: nothingToRelease(last ?? "", commits.length) }),
  };
}

function nothingToRelease(last: string, commits: number): string {
  if (commits === 0) return `HEAD is ${last}`;
  return `the ${commits} commit(s) since ${last} are chore, docs, ci or test only (feat → minor, fix and other types → patch, '!' or BREAKING CHANGE → major)`;
}
