import { describe, expect, it } from "vitest";
import { forgeLinks } from "../../src/release/forge.js";
import { bumpFor, nextVersion } from "../../src/release/next-version.js";
import { buildReleaseNotes, formatReleaseNotesMarkdown, type HistoryCommit } from "../../src/release/release-notes.js";

const commit = (sha: string, title: string, extra: Partial<HistoryCommit> = {}): HistoryCommit => ({
  sha,
  title,
  author: "Ada",
  ...extra,
});

describe("buildReleaseNotes", () => {
  it("groups conventional titles by type and lists the rest under Other", () => {
    const notes = buildReleaseNotes({
      from: "v0.0.2",
      to: "v0.0.3",
      candidates: [
        commit("a1", "feat(access-control): add view role (#12)"),
        commit("a2", "tenants(dummy): onboard dummy (#13)", { author: "Bob" }),
        commit("a3", "Fix typo"),
        commit("a4", "fix(ingress-nginx): raise replicas (#14)"),
      ],
      shipped: [],
    });
    expect(notes.sections.map((s) => [s.heading, s.entries.map((e) => e.pr)])).toEqual([
      ["Features", [12]],
      ["Fixes", [14]],
      ["Tenants", [13]],
    ]);
    expect(notes.other.map((e) => e.title)).toEqual(["Fix typo"]);
    expect(notes.contributors).toEqual(["Ada", "Bob"]);
  });

  it("leaves out what FROM already shipped, by PR number and by patch identity", () => {
    const notes = buildReleaseNotes({
      from: "v0.0.2",
      to: "v0.0.3",
      candidates: [
        commit("r1", "feat(x): rewritten copy of a shipped PR (#5)"),
        commit("r2", "fix(y): cherry-picked without a number", { patchId: "p-9" }),
        commit("n1", "feat(z): new (#6)"),
      ],
      shipped: [commit("o1", "feat(x): original (#5)"), commit("o2", "fix(y): original", { patchId: "p-9" })],
    });
    expect(notes.sections.flatMap((s) => s.entries.map((e) => e.sha))).toEqual(["n1"]);
    expect(notes.alreadyShipped.map((s) => [s.sha, s.reason])).toEqual([
      ["r1", "pull request"],
      ["r2", "patch"],
    ]);
  });

  it("links PRs on GitHub remotes and prints impact in Markdown", () => {
    const links = forgeLinks("git@github.com:example/platform.git");
    const notes = buildReleaseNotes({
      from: "v0.0.2",
      to: "v0.0.3",
      candidates: [commit("a1", "feat(access-control): add view role (#12)")],
      shipped: [],
      links,
      impact: [
        {
          environment: "prod",
          cluster: "prod-eu-west-1",
          unit: "feature-access-control",
          added: 1,
          changed: 0,
          removed: 0,
        },
      ],
    });
    const md = formatReleaseNotesMarkdown(notes, links);
    expect(md).toContain(
      "- **access-control:** add view role ([#12](https://github.com/example/platform/pull/12)) — Ada",
    );
    expect(md).toContain("| prod | prod-eu-west-1 | feature-access-control | 1 | 0 | 0 |");
    expect(md).toContain("https://github.com/example/platform/compare/v0.0.2...v0.0.3");
  });
});

describe("forgeLinks", () => {
  it("recognizes GitHub and GitLab in https, ssh and scp-like forms without credentials", () => {
    expect(forgeLinks("https://user:secret@github.com/org/repo.git")?.pullRequest(3)).toBe(
      "https://github.com/org/repo/pull/3",
    );
    expect(forgeLinks("ssh://git@gitlab.com/group/sub/repo.git")?.pullRequest(3)).toBe(
      "https://gitlab.com/group/sub/repo/-/merge_requests/3",
    );
    expect(forgeLinks("http://127.0.0.1:8080/repo.git")).toBeUndefined();
  });
});

describe("next version", () => {
  it("bumps by commit type: feat minor, fix patch, breaking major", () => {
    expect(bumpFor([{ title: "fix(a): b" }])).toBe("patch");
    expect(bumpFor([{ title: "fix(a): b" }, { title: "feat(a): c" }])).toBe("minor");
    expect(bumpFor([{ title: "feat(a): c" }, { title: "fix: d", body: "x\n\nBREAKING CHANGE: gone" }])).toBe("major");
    expect(bumpFor([{ title: "chore(release): v1" }])).toBe("none");
    expect(nextVersion("v1.2.3", "minor")).toBe("v1.3.0");
    expect(nextVersion("1.2.3", "patch")).toBe("1.2.4");
    expect(nextVersion("v1.2.3", "major")).toBe("v2.0.0");
  });

  it("keeps a 0.x major bump on the minor version", () => {
    expect(nextVersion("v0.0.3", "major")).toBe("v0.1.0");
  });
});
