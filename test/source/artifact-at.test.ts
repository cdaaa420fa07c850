import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitSource } from "../../src/source/git-source.js";
import { startGitHttpServer, type GitHttpServer } from "../support/git-http-server.js";
import { TestRepo } from "../support/git-repo.js";

const CM = (colour: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: paint}\ndata: {colour: ${colour}}\n`;

describe("GitSource.artifactAt: an earlier revision from the git cache (what a rollout pins clusters to)", () => {
  let repo: TestRepo;
  let server: GitHttpServer;
  let cacheDir: string;
  let first: string;

  beforeAll(async () => {
    repo = TestRepo.create();
    first = repo.commit("blue", { "app/cm.yaml": CM("blue") });
    repo.publish();
    server = await startGitHttpServer(repo.root);
    cacheDir = mkdtempSync(join(tmpdir(), "flotilla-cache-"));
  });
  afterAll(async () => {
    await server.stop();
    repo.remove();
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it("reads a revision fetched before, in a new GitSource over the same cache (a restarted controller), without the remote", async () => {
    const url = `${server.url}/repo.git`;
    await new GitSource({ url, ref: { branch: "main" }, cacheDir }).poll();
    const second = repo.commit("green", { "app/cm.yaml": CM("green") });
    repo.push();
    expect((await new GitSource({ url, ref: { branch: "main" }, cacheDir }).poll()).artifact.revision).toBe(
      `main@sha1:${second}`,
    );
    await server.stop(); // nothing below may reach the remote
    const restarted = new GitSource({ url, ref: { branch: "main" }, cacheDir });
    const old = await restarted.artifactAt(`main@sha1:${first}`);
    expect(old?.revision).toBe(`main@sha1:${first}`);
    expect(old?.tree.readText("app/cm.yaml")).toContain("colour: blue");
    server = await startGitHttpServer(repo.root);
  });

  it("says undefined for a commit the cache never saw, and for something that is not a revision", async () => {
    const s = new GitSource({ url: `${server.url}/repo.git`, ref: { branch: "main" }, cacheDir });
    expect(await s.artifactAt(`main@sha1:${"0".repeat(40)}`)).toBeUndefined();
    expect(await s.artifactAt("main")).toBeUndefined();
  });

  it("reads a local repository's earlier commits too", async () => {
    const s = new GitSource({ url: repo.work, ref: { branch: "main" } });
    expect((await s.artifactAt(`main@sha1:${first}`))?.tree.readText("app/cm.yaml")).toContain("colour: blue");
  });
});
