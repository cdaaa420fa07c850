import { appendFileSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeError } from "../../src/core/errors.js";
import { GitSource } from "../../src/source/git-source.js";
import { startGitHttpServer, type GitHttpServer } from "../support/git-http-server.js";
import { TestRepo } from "../support/git-repo.js";

const CM = (name: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n`;

describe("GitSource over real smart HTTP (git http-backend)", () => {
  let repo: TestRepo;
  let server: GitHttpServer;
  let cacheDir: string;
  let first: string;

  beforeAll(async () => {
    repo = TestRepo.create();
    first = repo.commit("feat(app): first (#1)", {
      "app/cm.yaml": CM("one"),
      ".github/workflows/ci.yaml": "on: push\n",
      "docs/logo.png": "png",
      "app/.sourceignore": "scratch/\n",
      "app/scratch/x.yaml": "not: manifest\n",
    });
    repo.git("tag", "v0.0.1");
    repo.publish();
    server = await startGitHttpServer(repo.root);
    cacheDir = mkdtempSync(join(tmpdir(), "flotilla-cache-"));
  });
  afterAll(async () => {
    await server.stop();
    repo.remove();
    rmSync(cacheDir, { recursive: true, force: true });
  });

  const source = (ref: object, extra: object = {}) =>
    new GitSource({ url: `${server.url}/repo.git`, ref, cacheDir, ...extra });

  it("tracks a branch: the artifact holds the files at the branch's commit, without excluded ones", async () => {
    const { artifact, changed } = await source({ branch: "main" }).poll();
    expect(changed).toBe(true);
    expect(artifact.revision).toBe(`main@sha1:${first}`);
    expect(artifact.tree.readText("app/cm.yaml")).toContain("name: one");
    expect(artifact.tree.kind(".github")).toBeUndefined();
    expect(artifact.tree.kind("docs/logo.png")).toBeUndefined();
    expect(artifact.tree.kind("app/scratch/x.yaml")).toBeUndefined();
  });

  it("a poll with no change only lists refs and fetches nothing", async () => {
    const s = source({ branch: "main" });
    await s.poll();
    const before = server.requests.length;
    const { changed } = await s.poll();
    expect(changed).toBe(false);
    const during = server.requests.slice(before);
    // Protocol v2: one GET for capabilities and one POST for ls-refs; a fetch would be a second POST.
    expect(during.filter((r) => r.startsWith("GET"))).toHaveLength(1);
    expect(during.filter((r) => r.startsWith("POST"))).toHaveLength(1);
  });

  it("detects a new commit on the branch and fetches only then", async () => {
    const s = source({ branch: "main" });
    await s.poll();
    const second = repo.commit("feat(app): second (#2)", { "app/cm2.yaml": CM("two") });
    repo.push();
    const { artifact, changed } = await s.poll();
    expect(changed).toBe(true);
    expect(artifact.revision).toBe(`main@sha1:${second}`);
    expect(artifact.tree.readText("app/cm2.yaml")).toContain("two");
  });

  it("pins a tag, and follows the tag when it is moved to another commit", async () => {
    const s = source({ tag: "v0.0.1" });
    expect((await s.poll()).artifact.revision).toBe(`v0.0.1@sha1:${first}`);
    repo.git("tag", "-f", "v0.0.1", "HEAD");
    repo.push();
    const head = repo.git("rev-parse", "HEAD");
    const { artifact, changed } = await s.poll();
    expect(changed).toBe(true);
    expect(artifact.revision).toBe(`v0.0.1@sha1:${head}`);
  });

  it("picks the highest semver tag among many", async () => {
    for (const t of ["v0.1.0", "v0.2.0", "v0.10.0", "v1.0.0-rc.1", "v0.9.9"]) repo.git("tag", "-f", t);
    repo.push();
    expect((await source({ semver: ">=0.1.0 <1.0.0" }).poll()).artifact.ref).toBe("v0.10.0");
  });

  it("follows a force push to a new history", async () => {
    const s = source({ branch: "main" });
    await s.poll();
    repo.git("reset", "-q", "--hard", first);
    const rewritten = repo.commit("fix(app): rewritten (#3)", { "app/cm.yaml": CM("rewritten") });
    repo.push();
    const { artifact } = await s.poll();
    expect(artifact.revision).toBe(`main@sha1:${rewritten}`);
    expect(artifact.tree.readText("app/cm.yaml")).toContain("rewritten");
  });

  it("a deleted branch is a clear error, and the last artifact stays usable", async () => {
    repo.git("branch", "-q", "feature", "HEAD");
    repo.push();
    const s = source({ branch: "feature" });
    const good = (await s.poll()).artifact;
    repo.git("branch", "-q", "-D", "feature");
    repo.push();
    await expect(s.poll()).rejects.toThrow("branch 'feature' does not exist on the remote");
    expect(s.lastArtifact()).toBe(good);
  });

  it("an unreachable server names the remote and the step", async () => {
    const s = new GitSource({ url: "http://127.0.0.1:9/repo.git", ref: { branch: "main" }, cacheDir, timeoutMs: 5000 });
    await expect(s.poll()).rejects.toThrow(/^http:\/\/127\.0\.0\.1:9\/repo\.git: list refs failed/);
  });
});

describe("GitSource authentication", () => {
  let repo: TestRepo;
  let basic: GitHttpServer;
  let bearer: GitHttpServer;
  const cacheDir = mkdtempSync(join(tmpdir(), "flotilla-cache-"));
  beforeAll(async () => {
    repo = TestRepo.create();
    repo.commit("init", { "a.yaml": CM("a") });
    repo.publish();
    basic = await startGitHttpServer(repo.root, { username: "deploy", password: "s3cr3t-pw" });
    bearer = await startGitHttpServer(repo.root, { bearer: "tok-123456" });
  });
  afterAll(async () => {
    await basic.stop();
    await bearer.stop();
    repo.remove();
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it("gets 401 without credentials, with a message that says so", async () => {
    const error = await new GitSource({ url: `${basic.url}/repo.git`, ref: { branch: "main" }, cacheDir })
      .poll()
      .catch((e: unknown) => e);
    expect(describeError(error)).toMatch(/list refs failed: HTTP 401.*authentication failed/);
  });

  it("succeeds with username and password, and never shows the password", async () => {
    const ok = await new GitSource({
      url: `${basic.url}/repo.git`,
      ref: { branch: "main" },
      cacheDir,
      secret: { username: "deploy", password: "s3cr3t-pw" },
    }).poll();
    expect(ok.artifact.tree.readText("a.yaml")).toContain("name: a");
    const error = await new GitSource({
      url: `${basic.url}/repo.git`,
      ref: { branch: "main" },
      cacheDir,
      secret: { username: "deploy", password: "wrong-pw" },
    })
      .poll()
      .catch((e: unknown) => e);
    expect(describeError(error)).not.toContain("wrong-pw");
  });

  it("succeeds with a bearer token", async () => {
    const ok = await new GitSource({
      url: `${bearer.url}/repo.git`,
      ref: { branch: "main" },
      cacheDir,
      secret: { bearerToken: "tok-123456" },
    }).poll();
    expect(ok.artifact.revision).toMatch(/^main@sha1:[0-9a-f]{40}$/);
  });

  it("keeps credentials in the URL out of errors and revisions", async () => {
    const error = await new GitSource({
      url: `http://user:hunter2@127.0.0.1:9/repo.git`,
      ref: { branch: "main" },
      cacheDir,
      timeoutMs: 3000,
    })
      .poll()
      .catch((e: unknown) => e);
    expect(describeError(error)).not.toContain("hunter2");
  });
});

describe("GitSource when the server stops mid-run", () => {
  it("fails the poll and keeps the last artifact", async () => {
    const repo = TestRepo.create();
    repo.commit("init", { "a.yaml": CM("a") });
    repo.publish();
    const server = await startGitHttpServer(repo.root);
    const cacheDir = mkdtempSync(join(tmpdir(), "flotilla-cache-"));
    try {
      const s = new GitSource({ url: `${server.url}/repo.git`, ref: { branch: "main" }, cacheDir, timeoutMs: 5000 });
      const good = (await s.poll()).artifact;
      await server.stop();
      await expect(s.poll()).rejects.toThrow(/list refs failed/);
      expect(s.lastArtifact()).toBe(good);
    } finally {
      repo.remove();
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });
});

describe("GitSource after a fetch killed midway", () => {
  it("fetches again when the cache's shallow file names a commit whose pack was never written", async () => {
    const repo = TestRepo.create();
    repo.commit("init", { "a.yaml": CM("a") });
    repo.publish();
    const server = await startGitHttpServer(repo.root);
    const cacheDir = mkdtempSync(join(tmpdir(), "flotilla-cache-"));
    try {
      const url = `${server.url}/repo.git`;
      await new GitSource({ url, ref: { branch: "main" }, cacheDir }).poll();
      const second = repo.commit("second", { "b.yaml": CM("b") });
      repo.push();
      // isomorphic-git writes `shallow` before the pack: the state a SIGKILL in between leaves.
      const gitdir = join(cacheDir, "git", readdirSync(join(cacheDir, "git"))[0]!);
      appendFileSync(join(gitdir, "shallow"), `${second}\n`);
      const { artifact } = await new GitSource({ url, ref: { branch: "main" }, cacheDir }).poll();
      expect(artifact.revision).toBe(`main@sha1:${second}`);
      expect(artifact.tree.readText("b.yaml")).toContain("name: b");
    } finally {
      await server.stop();
      repo.remove();
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });
});

describe("GitSources of one URL sharing a cache", () => {
  it("fetch a new commit once when polled at the same moment (the second waits, then finds it stored)", async () => {
    const repo = TestRepo.create();
    repo.commit("init", { "a.yaml": CM("a") });
    repo.git("tag", "v0.0.1");
    repo.publish();
    const server = await startGitHttpServer(repo.root);
    const cacheDir = mkdtempSync(join(tmpdir(), "flotilla-cache-"));
    try {
      const url = `${server.url}/repo.git`;
      await new GitSource({ url, ref: { branch: "main" }, cacheDir }).poll();
      const second = repo.commit("second", { "b.yaml": CM("b") });
      repo.git("tag", "v0.0.2");
      repo.push();
      const before = server.requests.length;
      // As `flotilla controller --repo` starts: the planner's main and semver sources and the
      // controller's GitRepository, all at once.
      const polls = await Promise.all(
        [{ branch: "main" }, { semver: "*" }, { branch: "main" }].map((ref) =>
          new GitSource({ url, ref, cacheDir }).poll(),
        ),
      );
      expect(polls.map((p) => p.artifact.commit)).toEqual([second, second, second]);
      // Three ls-refs, one fetch.
      expect(server.requests.slice(before).filter((r) => r.startsWith("POST"))).toHaveLength(4);
    } finally {
      await server.stop();
      repo.remove();
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });
});

describe("GitSource on a local path", () => {
  it("reads a repository on disk without a server", async () => {
    const repo = TestRepo.create();
    try {
      const sha = repo.commit("init", { "a.yaml": CM("a") });
      const { artifact } = await new GitSource({ url: repo.work, ref: { branch: "main" } }).poll();
      expect(artifact.revision).toBe(`main@sha1:${sha}`);
    } finally {
      repo.remove();
    }
  });

  it("refuses an SSH remote without the Secret's identity before connecting (SSH itself: test/source/ssh.test.ts)", async () => {
    await expect(
      new GitSource({ url: "git@github.com:org/repo.git", cacheDir: join(tmpdir(), "flotilla-unused") }).poll(),
    ).rejects.toThrow(/needs the Secret key 'identity'/);
  });
});

describe("GitSource on a 5,000-file repository", () => {
  it("materializes every file", async () => {
    const repo = TestRepo.create();
    const files: Record<string, string> = {};
    for (let i = 0; i < 5000; i++) files[`apps/app-${Math.floor(i / 100)}/cm-${i}.yaml`] = CM(`cm-${i}`);
    repo.commit("many", files);
    repo.publish();
    const server = await startGitHttpServer(repo.root);
    const cacheDir = mkdtempSync(join(tmpdir(), "flotilla-cache-"));
    try {
      const { artifact } = await new GitSource({
        url: `${server.url}/repo.git`,
        ref: { branch: "main" },
        cacheDir,
      }).poll();
      expect(artifact.tree.list("apps")).toHaveLength(50);
      expect(artifact.tree.readText("apps/app-49/cm-4999.yaml")).toContain("cm-4999");
    } finally {
      await server.stop();
      repo.remove();
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });
});
