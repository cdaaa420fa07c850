import semver from "semver";
import { declaresBreakingChange, parseCommitTitle } from "./commit-title.js";

export type Bump = "major" | "minor" | "patch" | "none";

/** The bump the commits call for: `!`/`BREAKING CHANGE` → major, feat → minor, fix → patch. */
export function bumpFor(commits: ReadonlyArray<{ title: string; body?: string }>): Bump {
  let bump: Bump = "none";
  for (const commit of commits) {
    const title = parseCommitTitle(commit.title);
    if (title?.breaking || declaresBreakingChange(commit.body ?? "")) return "major";
    if (title?.type === "feat" || title?.type === "features") bump = "minor";
    else if (
      bump === "none" &&
      title &&
      title.type !== "chore" &&
      title.type !== "docs" &&
      title.type !== "ci" &&
      title.type !== "test"
    ) {
      bump = "patch";
    }
  }
  return bump;
}

/**
 * The next version after `current` (a tag such as `v0.0.3`), keeping its `v` prefix. Before 1.0.0 a
 * breaking change bumps the minor version, as semantic-release and release-please do.
 */
export function nextVersion(current: string, bump: Bump): string {
  const prefix = current.startsWith("v") ? "v" : "";
  const parsed = semver.parse(current.replace(/^v/, ""));
  if (!parsed) throw new Error(`'${current}' is not a semantic version`);
  if (bump === "none") return current;
  const effective = bump === "major" && parsed.major === 0 ? "minor" : bump;
  return `${prefix}${semver.inc(parsed, effective)}`;
}
