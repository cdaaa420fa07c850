import type { LocalRepository } from "../source/index.js";
import { lintCommitTitle } from "./commit-title.js";

export interface CommitLint {
  sha: string;
  title: string;
  /** What is wrong with the title; empty when it follows the convention (merge commits always do). */
  problems: string[];
}

/** Checks every commit title of BASE..HEAD against `type(scope): subject (#PR)`, newest first. */
export async function lintCommits(
  local: LocalRepository,
  base: string | undefined,
  head: string,
): Promise<CommitLint[]> {
  const commits = await local.log(base, head);
  return commits.map((c) => ({
    sha: c.sha,
    title: c.title,
    problems: c.parents.length > 1 ? [] : lintCommitTitle(c.title),
  }));
}
