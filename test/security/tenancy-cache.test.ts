import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitSource, cacheKey } from "../../src/source/git-source.js";
import { startGitHttpServer, type GitHttpServer } from "../support/git-http-server.js";
import { TestRepo } from "../support/git-repo.js";

const CM = (name: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: tenant-b\n`;

/**
 * Issue 17, item 2: a git cache entry never serves a source whose URL and credentials did not
 * fetch it. Tenant B's source (with B's credentials Secret) fetches a commit; the commit then
 * leaves the server (a history rewrite that removes a leaked file, as teams do). Tenant A asks the
 * same URL for that commit by a bare `ref.commit`: before, the shared cache folder (keyed by URL
 * alone) held it and A got B's private files without the server ever sending them to A.
 */
describe("tenancy: the git cache is keyed by URL and credentials identity", () => {
  let repo: TestRepo;
  let server: GitHttpServer;
  let url: string;
  let privateCommit: string;
  const cacheDir = mkdtempSync(join(tmpdir(), "flotilla-tenancy-cache-"));
  // The server takes any credentials (it stands for one that lets both tenants list refs); B's Secret is named, not hashed.
  const bSecret = { username: "tenant-b", password: "b-password" };
  const bIdentity = "tenant-b/git-credentials/6c1b2f4e-0000-4000-8000-000000000001";

  beforeAll(async () => {
    repo = TestRepo.create();
    repo.commit("public", { "public/cm.yaml": CM("public") });
    privateCommit = repo.commit("private", { "private/cm.yaml": CM("b-private-token") });
    repo.publish();
    server = await startGitHttpServer(repo.root);
    url = `${server.url}/repo.git`;
  });
  afterAll(async () => {
    await server.stop();
    repo.remove();
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it("gives sources with other credentials (or none) another cache folder, and never derives it from the Secret's values", () => {
    const b = cacheKey({ url, secret: bSecret, credentialsIdentity: bIdentity });
    expect(cacheKey({ url })).not.toBe(b);
    expect(
      cacheKey({
        url,
        secret: { username: "tenant-a", password: "a" },
        credentialsIdentity: "tenant-a/git-credentials/uid-a",
      }),
    ).not.toBe(b);
    // Same Secret object, rotated password: same folder (its identity, not its content, is the key).
    expect(cacheKey({ url, secret: { ...bSecret, password: "rotated" }, credentialsIdentity: bIdentity })).toBe(b);
  });

  it("refuses tenant A a commit that only tenant B's fetch brought into the cache", async () => {
    const b = new GitSource({
      url,
      ref: { commit: privateCommit },
      secret: bSecret,
      credentialsIdentity: bIdentity,
      cacheDir,
      timeoutMs: 20_000,
    });
    const fetched = await b.poll();
    expect(fetched.artifact.tree.kind("private/cm.yaml")).toBe("file");

    // The commit leaves the server: main is rewound and the object pruned from the served repository.
    repo.git("reset", "-q", "--hard", "HEAD~1");
    repo.push();
    execFileSync("git", ["-C", repo.bare, "reflog", "expire", "--expire=now", "--all"]);
    execFileSync("git", ["-C", repo.bare, "gc", "-q", "--prune=now"]);
    expect(() =>
      execFileSync("git", ["-C", repo.bare, "cat-file", "-e", privateCommit], { stdio: "ignore" }),
    ).toThrow();

    const a = new GitSource({ url, ref: { commit: privateCommit }, cacheDir, timeoutMs: 20_000 });
    await expect(a.poll()).rejects.toThrow(new RegExp(`fetch|${privateCommit}`));
    // B's own source still reads it: the cache keeps working for the identity that fetched it.
    const again = new GitSource({
      url,
      ref: { commit: privateCommit },
      secret: bSecret,
      credentialsIdentity: bIdentity,
      cacheDir,
      timeoutMs: 20_000,
    });
    expect((await again.poll()).artifact.tree.kind("private/cm.yaml")).toBe("file");
    // Two folders: B's with the commit, A's without it.
    const folders = readdirSync(join(cacheDir, "git"));
    expect(folders.sort()).toEqual(
      [cacheKey({ url }), cacheKey({ url, secret: bSecret, credentialsIdentity: bIdentity })].sort(),
    );
  });
});
