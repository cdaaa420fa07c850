import { describe, expect, it } from "vitest";
import { highestTag, resolveRef, type RemoteRef } from "../../src/source/resolve-ref.js";

const sha = (c: string) => c.repeat(40);
const refs: RemoteRef[] = [
  { ref: "refs/heads/main", oid: sha("a") },
  { ref: "refs/heads/master", oid: sha("b") },
  { ref: "refs/tags/v0.0.1", oid: sha("1") },
  { ref: "refs/tags/v0.0.3", oid: sha("9"), peeled: sha("3") },
  { ref: "refs/tags/0.1.0", oid: sha("4") },
  { ref: "refs/tags/v1.0", oid: sha("5") },
  { ref: "refs/tags/v2.0.0-rc.1", oid: sha("6") },
  { ref: "refs/pull/42/head", oid: sha("7") },
];

describe("resolveRef follows Flux's precedence and revision format", () => {
  it("branch", () => {
    expect(resolveRef({ branch: "main" }, refs, "u")).toMatchObject({
      revision: `main@sha1:${sha("a")}`,
      fetchRef: "refs/heads/main",
    });
  });

  it("no ref means master", () => {
    expect(resolveRef(undefined, refs, "u").revision).toBe(`master@sha1:${sha("b")}`);
  });

  it("an annotated tag resolves to its commit", () => {
    expect(resolveRef({ tag: "v0.0.3", branch: "main" }, refs, "u").revision).toBe(`v0.0.3@sha1:${sha("3")}`);
  });

  it("semver picks the highest matching tag, v prefix allowed, exactly three parts, no pre-releases", () => {
    expect(resolveRef({ semver: ">=0.0.1", tag: "v0.0.1" }, refs, "u").revision).toBe(`0.1.0@sha1:${sha("4")}`);
    expect(resolveRef({ semver: "<0.1.0" }, refs, "u").name).toBe("v0.0.3");
    expect(() => resolveRef({ semver: ">=3.0.0" }, refs, "u")).toThrow("no match found for semver: >=3.0.0");
  });

  it("a range with a pre-release takes pre-releases of any version, as Flux's Masterminds semver does; one without takes none", () => {
    const tags = [
      "v1.2.0",
      "v1.10.0-rc.1",
      "1.3.0",
      "v1.9.0",
      "release-2024",
      "stable",
      "v2.0.0-beta.1",
      "v1.0.0-alpha",
    ];
    expect(highestTag(tags, "*")).toBe("v1.9.0");
    expect(highestTag(tags, ">=1.0.0")).toBe("v1.9.0");
    expect(highestTag(tags, ">=1.0.0-0")).toBe("v2.0.0-beta.1");
    expect(highestTag(tags, ">=1.0.0-0 <2.0.0")).toBe("v2.0.0-beta.1"); // 2.0.0-beta.1 sorts below 2.0.0
    expect(highestTag(tags, ">=1.0.0-0 <2.0.0-0")).toBe("v1.10.0-rc.1");
    expect(highestTag(tags, ">=1.0.0-0 <1.5.0 || >=3.0.0")).toBe("1.3.0");
    expect(highestTag(tags, "~1.2")).toBe("v1.2.0");
    expect(highestTag(tags, "1.0.0-alpha")).toBe("v1.0.0-alpha");
  });

  it("name wins over semver, tag and branch", () => {
    expect(resolveRef({ name: "refs/pull/42/head", semver: "*", branch: "main" }, refs, "u").revision).toBe(
      `refs/pull/42/head@sha1:${sha("7")}`,
    );
  });

  it("commit wins over everything; with a branch the revision names it", () => {
    expect(resolveRef({ commit: sha("c"), name: "refs/pull/42/head" }, refs, "u").revision).toBe(`sha1:${sha("c")}`);
    expect(resolveRef({ commit: sha("c"), branch: "main" }, refs, "u").revision).toBe(`main@sha1:${sha("c")}`);
  });

  it("a missing branch, tag or ref is a clear error naming the field", () => {
    expect(() => resolveRef({ branch: "gone" }, refs, "u")).toThrow("branch 'gone' does not exist on the remote");
    expect(() => resolveRef({ tag: "v9.9.9" }, refs, "u")).toThrow("tag 'v9.9.9' does not exist on the remote");
  });

  it("highestTag ignores tags that are not three-part versions", () => {
    expect(highestTag(["v1.0", "v1.2.3", "v1.10.0", "latest"], "*")).toBe("v1.10.0");
  });
});
