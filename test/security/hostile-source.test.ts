import { execFileSync } from "node:child_process";
import fs, { openSync, closeSync, ftruncateSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { tmpdir, userInfo } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TooLargeError, type FlotillaError } from "../../src/core/errors.js";
import { render } from "../../src/render/index.js";
import { GitSource } from "../../src/source/git-source.js";
import { DEFAULT_SOURCE_LIMITS } from "../../src/source/limits.js";
import { materializeCommit } from "../../src/source/materialize.js";
import { ObjectSizes } from "../../src/source/object-size.js";
import { TestRepo } from "../support/git-repo.js";
import { startGitHttpServer } from "../support/git-http-server.js";
import { generateKeyPair, startSshd, type KeyPair, type Sshd } from "../support/sshd.js";

const MiB = 1024 * 1024;
const CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: one\n";

describe("a server that advertises refs without end", () => {
  let served = 0;
  const server = http.createServer((req, res) => {
    res.writeHead(200, { "content-type": "application/x-git-upload-pack-advertisement" });
    const pkt = (line: string) => `${(line.length + 4).toString(16).padStart(4, "0")}${line}`;
    res.write(pkt("# service=git-upload-pack\n") + "0000");
    let i = 0;
    const more = (): void => {
      let ok = true;
      while (ok && !res.destroyed) {
        const chunk = Array.from({ length: 512 }, () =>
          pkt(`${(i++).toString(16).padStart(40, "0")} refs/heads/b${i}\n`),
        ).join("");
        served += chunk.length;
        ok = res.write(chunk);
      }
      if (!res.destroyed) res.once("drain", more);
    };
    res.on("close", () => undefined);
    more();
  });
  const listening = new Promise<number>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)),
  );
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it("is cut off at the ref limit with an error naming the source, without buffering what it sends", async () => {
    const port = await listening;
    const url = `http://127.0.0.1:${port}/team/platform.git`;
    const source = new GitSource({
      url,
      cacheDir: fs.mkdtempSync(join(process.env.TMPDIR ?? "/tmp", "flotilla-hostile-")),
    });
    const rssBefore = process.memoryUsage().rss;
    const error = (await source.poll().then(
      () => undefined,
      (e: unknown) => e,
    )) as FlotillaError;
    const grew = (process.memoryUsage().rss - rssBefore) / MiB;
    expect(error).toBeInstanceOf(TooLargeError);
    expect(error.message).toBe(`${url}: the server's ref advertisement is larger than 32 MiB (--max-refs-size)`);
    // The client stopped reading near the limit (the socket's buffers add a little).
    expect(served).toBeLessThan(DEFAULT_SOURCE_LIMITS.maxRefsBytes + 16 * MiB);
    // isomorphic-git holds what it has read until the error; a 600 MB advertisement took 671 MiB before.
    expect(grew).toBeLessThan(150);
  });
});

describe("a repository holding a 400 MB file of zeros", () => {
  const repo = TestRepo.create();
  afterAll(() => repo.remove());
  // The zeros are written sparse and committed by git itself; the pack holds about 400 KB.
  const big = join(repo.work, "blobs", "zeros.yaml");
  fs.mkdirSync(join(repo.work, "blobs"), { recursive: true });
  const fd = openSync(big, "w");
  ftruncateSync(fd, 400 * 1000 * 1000);
  closeSync(fd);
  const commit = repo.commit("one object, and a file of zeros", { "apps/cm.yaml": CM });
  repo.git("repack", "-a", "-d", "-q");
  const gitdir = join(repo.work, ".git");

  it("renders the one-object folder without inflating the file, under 300 MiB", async () => {
    const rssBefore = process.memoryUsage().rss;
    const tree = await materializeCommit({ fs, gitdir, commit, label: "platform@main" });
    expect(render(tree, "apps").map((o) => o.metadata.name)).toEqual(["one"]);
    expect((process.memoryUsage().rss - rssBefore) / MiB).toBeLessThan(300);
  });

  it("fails a render that reads the file, naming the source, the file and the limit's flag", async () => {
    const tree = await materializeCommit({ fs, gitdir, commit, label: "platform@main" });
    expect(tree.kind("blobs/zeros.yaml")).toBe("file");
    let error: FlotillaError | undefined;
    try {
      render(tree, "blobs");
    } catch (e) {
      error = e as FlotillaError;
    }
    expect(error).toBeInstanceOf(TooLargeError);
    expect(error!.describe()).toBe(
      "blobs/zeros.yaml: platform@main: file 'blobs/zeros.yaml' of platform@main is 381.5 MiB, larger than 16 MiB (--max-file-size)",
    );
  });

  it("fails the artifact when its files together pass the artifact limit", async () => {
    const small = repo.commit("three files of 40 KB", {
      "a/1.yaml": `# ${"x".repeat(40_000)}\n`,
      "a/2.yaml": `# ${"y".repeat(40_000)}\n`,
      "a/3.yaml": `# ${"z".repeat(40_000)}\n`,
    });
    const limits = { ...DEFAULT_SOURCE_LIMITS, maxArtifactBytes: 100_000 };
    // A folder's blobs are read concurrently, so which of the three tips the total over depends on which read ends last.
    await expect(materializeCommit({ fs, gitdir, commit: small, label: "platform@main", limits })).rejects.toThrow(
      /platform@main: the artifact's files are larger than 97.7 KiB together \(--max-artifact-size\); 'a\/[123]\.yaml' passed the limit/,
    );
  });

  it("refuses, over smart HTTP, a pack holding the file before it is inflated, naming the source and the flag", async () => {
    repo.publish();
    const server = await startGitHttpServer(repo.root);
    try {
      const url = `${server.url}/repo.git`;
      const source = new GitSource({
        url,
        ref: { branch: "main" },
        cacheDir: fs.mkdtempSync(join(process.env.TMPDIR ?? "/tmp", "flotilla-hostile-")),
      });
      const rssBefore = process.memoryUsage().rss;
      const start = Date.now();
      const error = (await source.poll().then(
        () => undefined,
        (e: unknown) => e,
      )) as FlotillaError;
      expect(error).toBeInstanceOf(TooLargeError);
      expect(error.message).toBe(
        `${url}: the fetched pack holds an object of 381.5 MiB, larger than the artifact may be, 100 MiB (--max-artifact-size); the commit is not fetched`,
      );
      // Loose bounds: inflating it to index the pack took seconds and 400 MB more.
      expect(Date.now() - start).toBeLessThan(2000);
      expect((process.memoryUsage().rss - rssBefore) / MiB).toBeLessThan(300);
    } finally {
      await server.stop();
    }
  });

  it("fetches, over smart HTTP, a commit whose file is over the file limit but not the artifact's, and renders every other folder", async () => {
    repo.git("checkout", "-q", "--orphan", "medium");
    repo.git("rm", "-r", "-q", "--cached", ".");
    fs.rmSync(join(repo.work, "blobs"), { recursive: true, force: true });
    fs.mkdirSync(join(repo.work, "big"), { recursive: true });
    const fd2 = openSync(join(repo.work, "big", "zeros.yaml"), "w");
    ftruncateSync(fd2, 5 * MiB);
    closeSync(fd2);
    repo.commit("a 5 MiB file beside one object", { "apps/cm.yaml": CM });
    repo.push();
    repo.git("checkout", "-q", "-f", "main");
    const server = await startGitHttpServer(repo.root);
    try {
      const url = `${server.url}/repo.git`;
      const limits = { ...DEFAULT_SOURCE_LIMITS, maxFileBytes: MiB };
      const source = new GitSource({
        url,
        ref: { branch: "medium" },
        limits,
        cacheDir: fs.mkdtempSync(join(process.env.TMPDIR ?? "/tmp", "flotilla-hostile-")),
      });
      const { artifact } = await source.poll();
      expect(render(artifact.tree, "apps").map((o) => o.metadata.name)).toEqual(["one"]);
      let error: FlotillaError | undefined;
      try {
        render(artifact.tree, "big");
      } catch (e) {
        error = e as FlotillaError;
      }
      expect(error?.message).toBe(
        `file 'big/zeros.yaml' of ${url}@${artifact.revision} is 5 MiB, larger than 1 MiB (--max-file-size)`,
      );
    } finally {
      await server.stop();
    }
  });

  it("reads every object's size from the store as git does, loose, packed and deltified", () => {
    const lines5k = Array.from({ length: 200 }, (_, i) => `  key${i}: value-${i}`).join("\n");
    repo.commit("a file", { "apps/big.yaml": `${CM}data:\n${lines5k}\n` });
    repo.commit("a delta of it", { "apps/big.yaml": `${CM}data:\n${lines5k}\n  more: yes\n` });
    repo.git("repack", "-a", "-d", "-q", "-f", "--depth=10", "--window=10");
    const pack = fs.readdirSync(join(gitdir, "objects", "pack")).find((f) => f.endsWith(".idx"))!;
    expect(repo.git("verify-pack", "-v", join(gitdir, "objects", "pack", pack))).toMatch(/chain length = 1/);
    repo.commit("a loose object", { "apps/loose.yaml": CM.replace("one", "two") });
    const sizes = new ObjectSizes(gitdir);
    const lines = repo.git("cat-file", "--batch-all-objects", "--batch-check=%(objectname) %(objectsize)").split("\n");
    expect(lines.length).toBeGreaterThan(8);
    for (const line of lines) {
      const [oid, size] = line.split(" ");
      expect(sizes.sizeOf(oid!), oid).toBe(Number(size));
    }
    expect(execFileSync("git", ["-C", gitdir, "count-objects", "-v"], { encoding: "utf8" })).toMatch(/^count: [1-9]/m);
  });
});

describe("the same bounds over SSH (a real OpenSSH sshd, git-upload-pack on the remote)", () => {
  const repo = TestRepo.create();
  let sshd: Sshd;
  let deploy: KeyPair;
  const keys = fs.mkdtempSync(join(tmpdir(), "flotilla-hostile-keys-"));
  beforeAll(async () => {
    fs.mkdirSync(join(repo.work, "blobs"), { recursive: true });
    const fd = openSync(join(repo.work, "blobs", "zeros.yaml"), "w");
    ftruncateSync(fd, 400 * 1000 * 1000);
    closeSync(fd);
    repo.commit("one object, and a file of zeros", { "apps/cm.yaml": CM });
    repo.publish();
    deploy = generateKeyPair(keys, "deploy", "ed25519");
    sshd = await startSshd({ authorizedKeys: [deploy.public] });
  });
  afterAll(async () => {
    await sshd?.stop();
    repo.remove();
    fs.rmSync(keys, { recursive: true, force: true });
  });
  const source = (limits = DEFAULT_SOURCE_LIMITS) =>
    new GitSource({
      url: `ssh://${userInfo().username}@${sshd.host}:${sshd.port}${repo.bare}`,
      ref: { branch: "main" },
      secret: { identity: deploy.private, known_hosts: sshd.knownHosts },
      limits,
      timeoutMs: 20_000,
      cacheDir: fs.mkdtempSync(join(tmpdir(), "flotilla-hostile-")),
    });
  const pollError = (s: GitSource) =>
    s.poll().then(
      () => {
        throw new Error("the poll succeeded");
      },
      (e: unknown) => e as FlotillaError,
    );

  it("refuses a pack holding an object over the artifact limit, before it is inflated", async () => {
    const rssBefore = process.memoryUsage().rss;
    const error = await pollError(source());
    expect(error).toBeInstanceOf(TooLargeError);
    expect(error.message).toMatch(
      /: the fetched pack holds an object of 381\.5 MiB, larger than the artifact may be, 100 MiB \(--max-artifact-size\); the commit is not fetched$/,
    );
    expect((process.memoryUsage().rss - rssBefore) / MiB).toBeLessThan(300);
  });

  it("cuts off a ref advertisement over the refs limit", async () => {
    const error = await pollError(source({ ...DEFAULT_SOURCE_LIMITS, maxRefsBytes: 64 }));
    expect(error).toBeInstanceOf(TooLargeError);
    expect(error.message).toMatch(
      /: the server's ref (advertisement|listing) is larger than 64 bytes \(--max-refs-size\)$/,
    );
  });
});
