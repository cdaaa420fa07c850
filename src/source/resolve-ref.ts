import semver from "semver";
import { InvalidInputError, NotFoundError } from "../core/errors.js";
import type { GitRepositoryRef } from "../core/flux.js";

/** A remote ref as `git ls-remote` lists it; `peeled` is the commit of an annotated tag. */
export interface RemoteRef {
  ref: string;
  oid: string;
  peeled?: string;
}

/** What a GitRepository's ref resolves to: the ref to fetch, the commit, and Flux's revision string. */
export interface ResolvedRef {
  /** The full ref to fetch (`refs/heads/main`), or undefined for a bare commit. */
  fetchRef?: string;
  commit: string;
  /** Flux's revision: `main@sha1:<sha>`, `v0.0.3@sha1:<sha>`, `refs/pull/1/head@sha1:<sha>`, `sha1:<sha>`. */
  revision: string;
  /** The short name the revision starts with (`main`, `v0.0.3`). */
  name: string;
}

const SHA = /^[0-9a-f]{40}$/;

/** Whether a tag is a version Flux's semver selection accepts: optional `v`, exactly three parts. */
export function tagVersion(tag: string): string | undefined {
  const bare = tag.startsWith("v") ? tag.slice(1) : tag;
  return semver.valid(bare) && /^\d+\.\d+\.\d+(?:[-+].*)?$/.test(bare) ? bare : undefined;
}

/** A repository's default branch among its branches: `main`, else `master` (Flux's default), else the first. */
export function defaultBranch(branches: readonly string[]): string | undefined {
  return ["main", "master"].find((b) => branches.includes(b)) ?? branches[0];
}

/** The highest tag matching a semver range, as Flux picks it. */
export function highestTag(tags: readonly string[], range: string): string | undefined {
  let best: { tag: string; version: string } | undefined;
  for (const tag of tags) {
    const version = tagVersion(tag);
    if (!version || !satisfies(version, range)) continue;
    if (!best || semver.gt(version, best.version)) best = { tag, version };
  }
  return best?.tag;
}

/**
 * Whether a version is in a range as Flux's semver library (Masterminds) decides it: a pre-release
 * matches only a group of comparators (between `||`) one of which has a pre-release, and then any
 * pre-release in the range does (`>=1.0.0-0` takes `1.10.0-rc.1`; node-semver would take only
 * `1.0.0-*` ones).
 */
function satisfies(version: string, range: string): boolean {
  const isPrerelease = semver.prerelease(version) !== null;
  // A comparator's value is "" for `*` (any version), which has no pre-release.
  const hasPrerelease = (c: semver.Comparator) => c.value !== "" && c.semver.prerelease.length > 0;
  return new semver.Range(range, { includePrerelease: true }).set.some(
    (group) => (!isPrerelease || group.some(hasPrerelease)) && group.every((c) => c.test(version)),
  );
}

/**
 * Resolves a GitRepository ref against the remote's refs with Flux's precedence: commit > name >
 * semver > tag > branch; no ref at all means branch `master`.
 */
export function resolveRef(ref: GitRepositoryRef | undefined, refs: readonly RemoteRef[], url: string): ResolvedRef {
  const byName = new Map(refs.map((r) => [r.ref, r]));
  const commitOf = (r: RemoteRef) => r.peeled ?? r.oid;
  const where = { object: url, field: "spec.ref" };
  if (ref?.commit) {
    if (!SHA.test(ref.commit))
      throw new InvalidInputError(`commit '${ref.commit}' is not a 40-digit SHA-1`, {
        ...where,
        field: "spec.ref.commit",
      });
    if (ref.branch) {
      return {
        fetchRef: `refs/heads/${ref.branch}`,
        commit: ref.commit,
        revision: `${ref.branch}@sha1:${ref.commit}`,
        name: ref.branch,
      };
    }
    return { commit: ref.commit, revision: `sha1:${ref.commit}`, name: ref.commit };
  }
  if (ref?.name) {
    const r = byName.get(ref.name);
    if (!r)
      throw new NotFoundError(`ref '${ref.name}' does not exist on the remote`, { ...where, field: "spec.ref.name" });
    return { fetchRef: ref.name, commit: commitOf(r), revision: `${ref.name}@sha1:${commitOf(r)}`, name: ref.name };
  }
  if (ref?.semver) {
    if (!semver.validRange(ref.semver))
      throw new InvalidInputError(`'${ref.semver}' is not a semver range`, { ...where, field: "spec.ref.semver" });
    const tags = refs.filter((r) => r.ref.startsWith("refs/tags/")).map((r) => r.ref.slice("refs/tags/".length));
    const tag = highestTag(tags, ref.semver);
    if (!tag)
      throw new NotFoundError(`no match found for semver: ${ref.semver}`, { ...where, field: "spec.ref.semver" });
    const r = byName.get(`refs/tags/${tag}`)!;
    return { fetchRef: `refs/tags/${tag}`, commit: commitOf(r), revision: `${tag}@sha1:${commitOf(r)}`, name: tag };
  }
  if (ref?.tag) {
    const r = byName.get(`refs/tags/${ref.tag}`);
    if (!r)
      throw new NotFoundError(`tag '${ref.tag}' does not exist on the remote`, { ...where, field: "spec.ref.tag" });
    return {
      fetchRef: `refs/tags/${ref.tag}`,
      commit: commitOf(r),
      revision: `${ref.tag}@sha1:${commitOf(r)}`,
      name: ref.tag,
    };
  }
  const branch = ref?.branch ?? "master";
  const r = byName.get(`refs/heads/${branch}`);
  if (!r)
    throw new NotFoundError(`branch '${branch}' does not exist on the remote`, { ...where, field: "spec.ref.branch" });
  return { fetchRef: `refs/heads/${branch}`, commit: r.oid, revision: `${branch}@sha1:${r.oid}`, name: branch };
}
