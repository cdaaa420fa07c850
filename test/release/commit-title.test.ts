import { describe, expect, it } from "vitest";
import { lintCommitTitle, parseCommitTitle, pullRequestOf } from "../../src/release/commit-title.js";

describe("parseCommitTitle", () => {
  it("reads type, scope, subject and the squash-merge PR number", () => {
    expect(parseCommitTitle("feat(access-control): add view ClusterRole (#12)")).toEqual({
      type: "feat",
      scope: "access-control",
      breaking: false,
      subject: "add view ClusterRole",
      pr: 12,
    });
  });

  it("reads the platform types tenants and providers", () => {
    expect(parseCommitTitle("tenants(dummy): onboard tenant dummy (#7)")?.type).toBe("tenants");
    expect(parseCommitTitle("providers(aws): bump cluster version (#9)")?.scope).toBe("aws");
  });

  it("marks `!` as breaking and allows no scope", () => {
    expect(parseCommitTitle("feat!: drop v1alpha3 clusters")).toMatchObject({
      breaking: true,
      subject: "drop v1alpha3 clusters",
    });
    expect(parseCommitTitle("chore(release): v0.0.3")).toMatchObject({
      type: "chore",
      scope: "release",
      subject: "v0.0.3",
    });
  });

  it("rejects titles outside the convention and unknown types", () => {
    expect(parseCommitTitle("Update README.md")).toBeUndefined();
    expect(parseCommitTitle("wip(x): stuff")).toBeUndefined();
    expect(parseCommitTitle("feat(x):missing space")).toBeUndefined();
  });
});

describe("pullRequestOf", () => {
  it("finds the PR of squash and merge commits", () => {
    expect(pullRequestOf("Update README (#31)")).toBe(31);
    expect(pullRequestOf("Merge pull request #4 from org/branch")).toBe(4);
    expect(pullRequestOf("no number here")).toBeUndefined();
  });
});

describe("lintCommitTitle", () => {
  it("accepts conventional titles and merge commits", () => {
    expect(lintCommitTitle("fix(ingress-nginx): raise replicas (#3)")).toEqual([]);
    expect(lintCommitTitle("Merge branch 'main' into x")).toEqual([]);
  });

  it("says what is wrong", () => {
    expect(lintCommitTitle("Update things")[0]).toMatch(/does not follow 'type\(scope\): subject \(#PR\)'/);
    expect(lintCommitTitle("wip(x): stuff")[0]).toMatch(/type 'wip' is not one of/);
    expect(lintCommitTitle("")).toEqual(["the title is empty"]);
  });
});
