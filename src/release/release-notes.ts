import { COMMIT_TYPES, parseCommitTitle, pullRequestOf, declaresBreakingChange } from "./commit-title.js";
import type { ForgeLinks } from "./forge.js";

/** A commit as release notes need it. `patchId` identifies its change independently of its parents. */
export interface HistoryCommit {
  sha: string;
  title: string;
  body?: string;
  author: string;
  patchId?: string;
}

export interface ReleaseEntry {
  sha: string;
  title: string;
  scope?: string;
  subject: string;
  breaking: boolean;
  pr?: number;
  prUrl?: string;
  author: string;
}

/** What one environment/cluster/unit sees change between the two revisions (the diff engine's summary). */
export interface ImpactRow {
  environment: string;
  cluster: string;
  unit: string;
  added: number;
  changed: number;
  removed: number;
}

export interface ReleaseNotes {
  from: string;
  to: string;
  sections: Array<{ type: string; heading: string; entries: ReleaseEntry[] }>;
  /** Titles that break the convention: listed, never dropped. */
  other: ReleaseEntry[];
  contributors: string[];
  /** Commits left out because FROM already shipped them (same PR or same patch). */
  alreadyShipped: Array<{ sha: string; title: string; reason: "pull request" | "patch" }>;
  impact: ImpactRow[];
}

export interface ReleaseNotesInput {
  from: string;
  to: string;
  /** Commits reachable from TO and not from FROM, newest first. */
  candidates: readonly HistoryCommit[];
  /** Commits reachable from FROM (what it shipped), for matching by PR number and patch identity. */
  shipped: readonly HistoryCommit[];
  links?: ForgeLinks;
  impact?: ImpactRow[];
}

/**
 * Release notes for what TO adds over FROM: grouped by commit type, with commits that FROM already
 * shipped (same pull request number or same patch, even when history was rewritten) left out.
 */
export function buildReleaseNotes(input: ReleaseNotesInput): ReleaseNotes {
  const shippedPrs = new Set<number>();
  const shippedPatches = new Set<string>();
  for (const commit of input.shipped) {
    const pr = pullRequestOf(commit.title);
    if (pr !== undefined) shippedPrs.add(pr);
    if (commit.patchId) shippedPatches.add(commit.patchId);
  }

  const byType = new Map<string, ReleaseEntry[]>();
  const other: ReleaseEntry[] = [];
  const alreadyShipped: ReleaseNotes["alreadyShipped"] = [];
  const contributors = new Set<string>();

  for (const commit of input.candidates) {
    const pr = pullRequestOf(commit.title);
    if (pr !== undefined && shippedPrs.has(pr)) {
      alreadyShipped.push({ sha: commit.sha, title: commit.title, reason: "pull request" });
      continue;
    }
    if (commit.patchId && shippedPatches.has(commit.patchId)) {
      alreadyShipped.push({ sha: commit.sha, title: commit.title, reason: "patch" });
      continue;
    }
    if (/^Merge (branch|remote-tracking branch) /.test(commit.title)) continue;
    contributors.add(commit.author);
    const parsed = parseCommitTitle(commit.title);
    const prNumber = parsed?.pr ?? pr;
    const entry: ReleaseEntry = {
      sha: commit.sha,
      title: commit.title,
      subject: parsed?.subject ?? commit.title,
      breaking: (parsed?.breaking ?? false) || declaresBreakingChange(commit.body ?? ""),
      author: commit.author,
      ...(parsed?.scope ? { scope: parsed.scope } : {}),
      ...(prNumber !== undefined ? { pr: prNumber } : {}),
      ...(prNumber !== undefined && input.links ? { prUrl: input.links.pullRequest(prNumber) } : {}),
    };
    if (!parsed) {
      other.push(entry);
      continue;
    }
    const list = byType.get(parsed.type) ?? [];
    list.push(entry);
    byType.set(parsed.type, list);
  }

  const sections: ReleaseNotes["sections"] = [];
  const headings = new Map<string, ReleaseNotes["sections"][number]>();
  for (const { type, heading } of COMMIT_TYPES) {
    const entries = byType.get(type);
    if (!entries) continue;
    const existing = headings.get(heading);
    if (existing) existing.entries.push(...entries);
    else {
      const section = { type, heading, entries: [...entries] };
      headings.set(heading, section);
      sections.push(section);
    }
  }

  return {
    from: input.from,
    to: input.to,
    sections,
    other,
    contributors: [...contributors].sort((a, b) => a.localeCompare(b)),
    alreadyShipped,
    impact: [...(input.impact ?? [])].sort(
      (a, b) =>
        a.environment.localeCompare(b.environment) ||
        a.cluster.localeCompare(b.cluster) ||
        a.unit.localeCompare(b.unit),
    ),
  };
}

/** Release notes as a Markdown release body. */
export function formatReleaseNotesMarkdown(notes: ReleaseNotes, links?: ForgeLinks): string {
  const out: string[] = [`## ${notes.to}`, ""];
  const line = (e: ReleaseEntry): string => {
    const scope = e.scope ? `**${e.scope}:** ` : "";
    const breaking = e.breaking ? "**BREAKING** " : "";
    const pr = e.pr === undefined ? ` (${e.sha.slice(0, 7)})` : e.prUrl ? ` ([#${e.pr}](${e.prUrl}))` : ` (#${e.pr})`;
    return `- ${breaking}${scope}${e.subject}${pr} — ${e.author}`;
  };
  for (const section of notes.sections) {
    out.push(`### ${section.heading}`, "", ...section.entries.map(line), "");
  }
  if (notes.other.length > 0) out.push("### Other", "", ...notes.other.map(line), "");
  if (notes.sections.length === 0 && notes.other.length === 0) out.push("No changes.", "");
  if (notes.impact.length > 0) {
    out.push(
      "### Impact",
      "",
      "| environment | cluster | unit | added | changed | removed |",
      "|---|---|---|---:|---:|---:|",
    );
    for (const row of notes.impact) {
      out.push(
        `| ${row.environment} | ${row.cluster} | ${row.unit} | ${row.added} | ${row.changed} | ${row.removed} |`,
      );
    }
    out.push("");
  }
  if (notes.contributors.length > 0) out.push("### Contributors", "", ...notes.contributors.map((c) => `- ${c}`), "");
  const compare = links?.compare(notes.from, notes.to);
  out.push(
    compare
      ? `**Full changelog**: [${notes.from}...${notes.to}](${compare})`
      : `**Full changelog**: ${notes.from}...${notes.to}`,
  );
  return `${out.join("\n")}\n`;
}
