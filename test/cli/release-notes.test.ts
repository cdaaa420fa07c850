import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { run as lint } from "../../src/cli/lint-commits.js";
import { run } from "../../src/cli/release-notes.js";
import { releaseNotes } from "../../src/release/index.js";
import { LocalRepository } from "../../src/source/index.js";
import { capture as captureAll } from "../support/capture-output.js";
import { TestRepo } from "../support/git-repo.js";

const cm = (n: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${n}\n  namespace: team\n`;

async function capture(fn: () => Promise<number>): Promise<{ code: number; out: string }> {
  let out = "";
  const spy = vi
    .spyOn(process.stdout, "write")
    .mockImplementation((c: string | Uint8Array) => ((out += String(c)), true));
  try {
    return { code: await fn(), out };
  } finally {
    spy.mockRestore();
  }
}

/**
 * The reference workflow's history: fourteen squash-merged pull requests, tags v0.0.1–v0.0.3, and
 * v0.0.2 left on a commit that a later force push removed from main (PRs #5–#8 and one unnumbered
 * fix were re-applied on the new history).
 */
describe("release notes over a rewritten history", () => {
  let repo: TestRepo;
  beforeAll(() => {
    repo = TestRepo.create();
    repo.git("remote", "add", "origin", "git@github.com:example/platform.git");
    const pr = (n: number, title: string, author = "Dev") => {
      repo.git("config", "user.name", author);
      return repo.commit(`${title} (#${n})`, { [`features/f${n}/cm.yaml`]: cm(`f${n}`) });
    };
    pr(1, "feat(access-control): add platform-view role");
    pr(2, "feat(ingress-nginx): add controller");
    pr(3, "tenants(dummy): onboard dummy");
    pr(4, "chore(release): v0.0.1");
    repo.git("tag", "v0.0.1");
    const base = repo.git("rev-parse", "HEAD");
    pr(5, "feat(helloworld-operator): add operator");
    pr(6, "fix(ingress-nginx): raise replicas");
    repo.commit("fix typo in tenant quota", { "tenants/quota.txt": "cpu: 2\n" });
    pr(7, "providers(aws): bump machine type");
    pr(8, "chore(release): v0.0.2");
    repo.git("tag", "v0.0.2");
    // Force push: main goes back to v0.0.1 and the same pull requests land again as new commits.
    repo.git("reset", "-q", "--hard", base);
    pr(5, "feat(helloworld-operator): add operator");
    pr(6, "fix(ingress-nginx): raise replicas");
    repo.commit("fix: correct tenant quota typo", { "tenants/quota.txt": "cpu: 2\n" });
    pr(7, "providers(aws): bump machine type");
    pr(8, "chore(release): v0.0.2");
    pr(9, "feat(access-control): add platform-admin role", "Ana");
    pr(10, "tenants(dummy): raise quota", "Ana");
    pr(11, "fix(helloworld-operator)!: rename custom resource", "Bo");
    pr(12, "providers(aws): add eu-west-2", "Bo");
    repo.commit("Update README", { "README.md": "platform\n" });
    pr(13, "feat(ingress-nginx): default ingress class");
    pr(14, "chore(release): v0.0.3");
    repo.git("tag", "v0.0.3");
  });
  afterAll(() => repo.remove());

  it("lists only what v0.0.3 adds: PRs #9–#14 and the unconventional title under Other", async () => {
    const notes = await releaseNotes(
      LocalRepository.open(repo.work),
      "v0.0.2",
      "v0.0.3",
      "git@github.com:example/platform.git",
    );
    const prs = notes.sections.flatMap((s) => s.entries.map((e) => e.pr)).sort((a, b) => a! - b!);
    expect(prs).toEqual([9, 10, 11, 12, 13, 14]);
    expect(notes.other.map((e) => e.title)).toEqual(["Update README"]);
    // #5 and #6 were re-applied byte for byte (same parent, tree, message, dates), so ancestry already
    // excludes them; after the reworded fix the histories diverge: #7 and #8 match by PR number and
    // the reworded fix, which has none, by its patch.
    expect(notes.alreadyShipped.map((s) => `${s.reason}:${s.title}`).sort()).toEqual([
      "patch:fix: correct tenant quota typo",
      "pull request:chore(release): v0.0.2 (#8)",
      "pull request:providers(aws): bump machine type (#7)",
    ]);
    expect(notes.contributors).toEqual(["Ana", "Bo", "Dev"]);
  });

  it("prints Markdown with headings, linked PRs and the breaking marker", async () => {
    const { out } = await capture(() => run(["v0.0.2..v0.0.3", "--repo", repo.work]));
    expect(out).toContain("### Features");
    expect(out).toContain("### Tenants");
    expect(out).toContain(
      "- **access-control:** add platform-admin role ([#9](https://github.com/example/platform/pull/9)) — Ana",
    );
    expect(out).toContain("**BREAKING** **helloworld-operator:** rename custom resource");
    expect(out).toContain("### Other");
  });

  it("refuses a range whose FROM is not older than TO", async () => {
    await expect(run(["v0.0.3..v0.0.1", "--repo", repo.work])).rejects.toThrow("v0.0.3 is not older than v0.0.1");
    await expect(run(["nope..v0.0.1", "--repo", repo.work])).rejects.toThrow("ref 'nope' does not exist");
  });

  it("--next with nothing to release since the last tag prints no version and exits 1", async () => {
    const { code, out, err } = await captureAll(() => run(["--next", "--repo", repo.work]));
    expect({ code, out }).toEqual({ code: 1, out: "" });
    expect(err).toMatch(
      /^nothing to release: (HEAD is v0\.0\.3|the \d+ commit\(s\) since v0\.0\.3 are chore, docs, ci or test only)/,
    );
  });

  it("suggests the next version from commit types since the last tag", async () => {
    repo.commit("feat(tenants): add team-b (#15)", { "tenants/b.txt": "b\n" });
    const { out } = await capture(() => run(["--next", "--repo", repo.work]));
    expect(out).toBe("v0.1.0\n");
  });

  it("lint-commits flags titles that break the convention and exits 1", async () => {
    const { code, out } = await capture(() => lint(["v0.0.2..v0.0.3", "--repo", repo.work]));
    expect(code).toBe(1);
    expect(out).toContain("Update README");
    expect(out).toMatch(/\d+ commit\(s\) checked, 1 not following the convention/);
    expect((await capture(() => lint(["v0.0.3..HEAD", "--repo", repo.work]))).code).toBe(0);
  });
});
