/**
 * The platform repository's commit convention: `type(scope)!: subject (#PR)`, as in
 * `feat(access-control): add view role (#12)`, `tenants(dummy): onboard (#7)`,
 * `chore(release): v0.0.3`. Squash-merged pull requests put the PR number at the end.
 */
export interface CommitTitle {
  type: string;
  scope?: string;
  breaking: boolean;
  subject: string;
  /** The pull request number from a trailing `(#123)`. */
  pr?: number;
}

/** The types the convention knows, with the heading their release-note section gets, in order. */
export const COMMIT_TYPES: ReadonlyArray<{ type: string; heading: string }> = [
  { type: "feat", heading: "Features" },
  { type: "fix", heading: "Fixes" },
  { type: "tenants", heading: "Tenants" },
  { type: "providers", heading: "Providers" },
  { type: "features", heading: "Features" },
  { type: "mgmt", heading: "Management cluster" },
  { type: "perf", heading: "Performance" },
  { type: "revert", heading: "Reverts" },
  { type: "refactor", heading: "Refactoring" },
  { type: "docs", heading: "Documentation" },
  { type: "test", heading: "Tests" },
  { type: "build", heading: "Build" },
  { type: "ci", heading: "Continuous integration" },
  { type: "style", heading: "Style" },
  { type: "chore", heading: "Chores" },
];

const KNOWN_TYPES = new Set(COMMIT_TYPES.map((t) => t.type));
const TITLE = /^(?<type>[a-z][a-z0-9-]*)(?:\((?<scope>[^()\s][^()]*)\))?(?<bang>!)?: (?<subject>\S.*)$/;
const TRAILING_PR = /\s*\(#(?<pr>\d+)\)\s*$/;
const MERGE_COMMIT_PR = /^Merge pull request #(?<pr>\d+) from /;

/** Parses a commit title; undefined when it does not follow the convention. */
export function parseCommitTitle(title: string): CommitTitle | undefined {
  const match = TITLE.exec(title.trim());
  if (!match?.groups) return undefined;
  const { type, scope, bang, subject } = match.groups as {
    type: string;
    scope?: string;
    bang?: string;
    subject: string;
  };
  if (!KNOWN_TYPES.has(type)) return undefined;
  const pr = TRAILING_PR.exec(subject);
  return {
    type,
    ...(scope ? { scope: scope.trim() } : {}),
    breaking: bang === "!",
    subject: pr ? subject.slice(0, pr.index).trim() : subject.trim(),
    ...(pr?.groups?.pr ? { pr: Number(pr.groups.pr) } : {}),
  };
}

/** The pull request number a title names, whether or not it follows the convention. */
export function pullRequestOf(title: string): number | undefined {
  const match = TRAILING_PR.exec(title) ?? MERGE_COMMIT_PR.exec(title);
  return match?.groups?.pr ? Number(match.groups.pr) : undefined;
}

/** Whether a commit body declares a breaking change (`BREAKING CHANGE:` / `BREAKING-CHANGE:` footer). */
export function declaresBreakingChange(body: string): boolean {
  return /^BREAKING[ -]CHANGE: /m.test(body);
}

/** What is wrong with a title, as sentences; empty when it follows the convention. */
export function lintCommitTitle(title: string): string[] {
  const trimmed = title.trim();
  if (trimmed === "") return ["the title is empty"];
  if (/^(Merge|Revert) /.test(trimmed)) return [];
  const match = TITLE.exec(trimmed);
  if (!match?.groups) {
    return [`'${trimmed}' does not follow 'type(scope): subject (#PR)'`];
  }
  const problems: string[] = [];
  const { type } = match.groups as { type: string };
  if (!KNOWN_TYPES.has(type)) {
    problems.push(`type '${type}' is not one of ${[...KNOWN_TYPES].join(", ")}`);
  }
  if (trimmed.length > 100) problems.push(`the title is ${trimmed.length} characters long; keep it to 100`);
  return problems;
}
