import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join, relative } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FlotillaError, describeError } from "../../src/core/errors.js";
import { GitSource, type SourceSpec } from "../../src/source/git-source.js";
import { generateKeyPair, startSshd, type KeyPair, type Sshd } from "../support/sshd.js";
import { TestRepo } from "../support/git-repo.js";

const CM = (name: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n`;

/** Everything a message must never show: the private key's lines and the public key's base64. */
function expectNoKeyMaterial(message: string, ...keys: KeyPair[]): void {
  for (const key of keys) {
    for (const line of key.private.split("\n").filter((l) => l.length > 20 && !l.startsWith("-----")))
      expect(message).not.toContain(line);
    expect(message).not.toContain(key.public.split(/\s+/)[1]!);
  }
}

async function pollError(source: GitSource): Promise<FlotillaError> {
  try {
    await source.poll();
  } catch (error) {
    expect(error).toBeInstanceOf(FlotillaError);
    return error as FlotillaError;
  }
  throw new Error("the poll succeeded");
}

describe("GitSource over SSH (a real OpenSSH sshd, git-upload-pack on the remote)", () => {
  let repo: TestRepo;
  let sshd: Sshd;
  let keys: string;
  let deploy: KeyPair;
  let rsaPem: KeyPair;
  let stranger: KeyPair;
  let otherHost: KeyPair;
  let cacheDir: string;
  let first: string;
  let second: string;
  const user = userInfo().username;

  beforeAll(async () => {
    repo = TestRepo.create();
    first = repo.commit("feat(app): first (#1)", {
      "app/cm.yaml": CM("one"),
      ".github/workflows/ci.yaml": "on: push\n",
    });
    repo.git("tag", "v0.0.1");
    second = repo.commit("feat(app): second (#2)", { "app/cm.yaml": CM("two") });
    repo.publish();
    keys = mkdtempSync(join(tmpdir(), "flotilla-keys-"));
    deploy = generateKeyPair(keys, "deploy", "ed25519");
    rsaPem = generateKeyPair(keys, "deploy-rsa", "rsa", "pem");
    stranger = generateKeyPair(keys, "stranger", "ed25519");
    otherHost = generateKeyPair(keys, "other-host", "ed25519");
    sshd = await startSshd({ authorizedKeys: [deploy.public, rsaPem.public] });
    cacheDir = mkdtempSync(join(tmpdir(), "flotilla-cache-"));
  });
  afterAll(async () => {
    await sshd?.stop();
    repo?.remove();
    rmSync(keys, { recursive: true, force: true });
    rmSync(cacheDir, { recursive: true, force: true });
  });

  const url = () => `ssh://${user}@${sshd.host}:${sshd.port}${repo.bare}`;
  const secret = (extra: Record<string, string> = {}) => ({
    identity: deploy.private,
    "identity.pub": deploy.public,
    known_hosts: sshd.knownHosts,
    ...extra,
  });
  const source = (spec: Partial<SourceSpec> = {}) =>
    new GitSource({
      url: url(),
      ref: { branch: "main" },
      cacheDir: mkdtempSync(join(cacheDir, "c-")),
      secret: secret(),
      timeoutMs: 20_000,
      ...spec,
    });
  const packs = (s: GitSource) => {
    const gitdir = (s as unknown as { gitdir: string }).gitdir;
    return readdirSync(join(gitdir, "objects", "pack"))
      .filter((f) => f.endsWith(".idx"))
      .map((f) => join(gitdir, "objects", "pack", f));
  };
  const objectsIn = (idx: string) =>
    execFileSync("git", ["show-index"], { input: readFileSync(idx), encoding: "utf8" })
      .trim()
      .split("\n").length;

  it("tracks main and pins a tag over ssh://, with Flux revisions and the default exclusions", async () => {
    const main = await source().poll();
    expect(main.artifact.revision).toBe(`main@sha1:${second}`);
    expect(main.artifact.tree.readText("app/cm.yaml")).toContain("name: two");
    expect(main.artifact.tree.kind(".github")).toBeUndefined();
    const tag = await source({ ref: { tag: "v0.0.1" } }).poll();
    expect(tag.artifact.revision).toBe(`v0.0.1@sha1:${first}`);
    expect(tag.artifact.tree.readText("app/cm.yaml")).toContain("name: one");
    const semver = await source({ ref: { semver: ">=0.0.1" } }).poll();
    expect(semver.artifact.revision).toBe(`v0.0.1@sha1:${first}`);
  });

  it("reads scp-like URLs (path relative to the login directory), hashed known_hosts from ssh-keyscan, and a PEM RSA key", async () => {
    // ssh-keyscan -H writes hashed `|1|salt|hash` entries, as `flux create secret git` stores them.
    const scanned = execFileSync("ssh-keyscan", ["-H", "-t", "ed25519", "-p", String(sshd.port), sshd.host], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    expect(scanned).toMatch(/^\|1\|/);
    const path = relative(userInfo().homedir, repo.bare);
    expect(path.startsWith("/")).toBe(false);
    const s = source({
      url: `${user}@[${sshd.host}:${sshd.port}]:${path}`,
      secret: { identity: rsaPem.private, known_hosts: `# scanned\n${scanned}` },
    });
    const { artifact } = await s.poll();
    expect(artifact.revision).toBe(`main@sha1:${second}`);
  });

  it("a no-change poll only lists refs; a new commit is fetched as a small incremental pack", async () => {
    const s = source();
    const before = await s.poll();
    expect(packs(s)).toHaveLength(1);
    const again = await s.poll();
    expect(again.changed).toBe(false);
    expect(again.artifact).toBe(before.artifact);
    const held = packs(s);
    expect(held).toHaveLength(1);

    const third = repo.commit("feat(app): third (#3)", { "app/extra/cm3.yaml": CM("three") });
    repo.push();
    const next = await s.poll();
    expect(next.changed).toBe(true);
    expect(next.artifact.revision).toBe(`main@sha1:${third}`);
    expect(next.artifact.tree.readText("app/extra/cm3.yaml")).toContain("name: three");
    expect(next.artifact.tree.readText("app/cm.yaml")).toContain("name: two");
    const fresh = packs(s).filter((p) => !held.includes(p));
    expect(fresh).toHaveLength(1);
    // The commit, the root, app and app/extra trees and the one new blob: nothing already held.
    expect(objectsIn(fresh[0]!)).toBe(5);
  });

  it("a branch and an older release tag share one object store: thin packs, nothing sent twice (3,000 commits, 20 tags)", async () => {
    // The shape that once made the server resend an object already held, as a delta against
    // another held object: isomorphic-git then looped between the two copies and never returned.
    const bare = join(repo.root, "history.git");
    execFileSync("git", ["init", "-q", "--bare", bare]);
    const data = (x: string) => `data ${Buffer.byteLength(x)}\n${x}\n`;
    let stream = `commit refs/heads/main\ncommitter Dev <dev@example.com> 1700000000 +0000\n${data("first")}`;
    for (let i = 0; i < 500; i++)
      stream += `M 100644 inline apps/a-${Math.floor(i / 100)}/f-${i}.yaml\n${data(`a: ${i}\n`)}`;
    for (let k = 1; k < 3000; k++) {
      stream += `commit refs/heads/main\ncommitter Dev <dev@example.com> ${1_700_000_000 + k} +0000\n${data(`change ${k}`)}M 100644 inline apps/a-0/f-${k % 500}.yaml\n${data(`b: ${k}\n`)}`;
      if (k % 150 === 0)
        stream += `tag v0.${k / 150}.0\nfrom refs/heads/main\ntagger Dev <dev@example.com> 1700000000 +0000\n${data("release")}`;
    }
    execFileSync("git", ["-C", bare, "fast-import", "--quiet"], { input: stream, maxBuffer: 1 << 28 });
    execFileSync("git", ["-C", bare, "symbolic-ref", "HEAD", "refs/heads/main"]);
    const store = mkdtempSync(join(cacheDir, "shared-"));
    const at = { url: `ssh://${user}@${sshd.host}:${sshd.port}${bare}`, cacheDir: store };
    const main = source({ ...at, ref: { branch: "main" } });
    await main.poll();
    const next = `commit refs/heads/main\ncommitter Dev <dev@example.com> 1800000000 +0000\n${data("next")}from refs/heads/main^0\nM 100644 inline apps/a-3/new.yaml\n${data("z: 1\n")}`;
    execFileSync("git", ["-C", bare, "fast-import", "--quiet"], { input: next });
    expect((await main.poll()).artifact.tree.readText("apps/a-3/new.yaml")).toBe("z: 1\n");
    const release = await source({ ...at, ref: { semver: ">=0.1.0" } }).poll();
    expect(release.artifact.ref).toBe("v0.19.0");
    expect(release.artifact.tree.readText("apps/a-0/f-350.yaml")).toBe("b: 2850\n");
    const oids = packs(main).flatMap((idx) =>
      execFileSync("git", ["show-index"], { input: readFileSync(idx), encoding: "utf8" })
        .trim()
        .split("\n")
        .map((l) => l.split(" ")[1]),
    );
    expect(packs(main).length).toBe(3);
    expect(oids.length - new Set(oids).size).toBe(0);
  });

  it("a thin pack that resends held objects is dropped and fetched again self-contained", async () => {
    const s = source();
    await s.poll();
    // The store gets, by another way, the blob the next commit adds: the server cannot know.
    const content = CM("seeded");
    const blob = execFileSync("git", ["hash-object", "-w", "--stdin"], {
      cwd: repo.work,
      input: content,
      encoding: "utf8",
    }).trim();
    const gitdir = (s as unknown as { gitdir: string }).gitdir;
    execFileSync("git", ["pack-objects", "-q", join(gitdir, "objects", "pack", "pack")], {
      cwd: repo.work,
      input: `${blob}\n`,
    });
    const next = repo.commit("feat(app): seeded (#4)", { "app/seeded.yaml": content });
    repo.push();
    const lines: string[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => void lines.push(line) });
    const fresh = new GitSource(
      { url: url(), ref: { branch: "main" }, cacheDir: join(gitdir, "..", ".."), secret: secret() },
      { logger },
    );
    const { artifact } = await fresh.poll();
    expect(artifact.revision).toBe(`main@sha1:${next}`);
    expect(artifact.tree.readText("app/seeded.yaml")).toBe(content);
    expect(lines.join("")).toContain("the server resent objects already held; fetching again without a thin pack");
  });

  it("refuses a server whose host key differs from known_hosts, naming host and fingerprints", async () => {
    const wrong = `[${sshd.host}]:${sshd.port} ${otherHost.public.split(/\s+/).slice(0, 2).join(" ")}`;
    const error = await pollError(source({ secret: secret({ known_hosts: wrong }) }));
    expect(error.code).toBe("Refused");
    expect(error.location.field).toBe("known_hosts");
    expect(describeError(error)).toMatch(
      new RegExp(`host key mismatch for \\[127\\.0\\.0\\.1\\]:${sshd.port}: it presented ssh-ed25519 SHA256:`),
    );
    expectNoKeyMaterial(describeError(error), deploy);
  });

  it("refuses an unknown host (never trusted on first use), and a Secret without known_hosts", async () => {
    // An entry for the same address on another port does not vouch for this one.
    const elsewhere = `[${sshd.host}]:1 ${sshd.hostKey.split(/\s+/).slice(0, 2).join(" ")}\ngithub.com ${otherHost.public.split(/\s+/).slice(0, 2).join(" ")}`;
    const unknown = await pollError(source({ secret: secret({ known_hosts: elsewhere }) }));
    expect(unknown.code).toBe("Refused");
    expect(unknown.message).toContain(`host [127.0.0.1]:${sshd.port} is not in the Secret's known_hosts`);
    const none = await pollError(source({ secret: { identity: deploy.private } }));
    expect(none.code).toBe("Refused");
    expect(none.location.field).toBe("known_hosts");
    expect(none.message).toContain("never trusted on first use");
  });

  it("a key the server does not authorize fails authentication with a clear error and no key material", async () => {
    const error = await pollError(source({ secret: { identity: stranger.private, known_hosts: sshd.knownHosts } }));
    expect(error.code).toBe("Remote");
    expect(error.location.field).toBe("identity");
    expect(describeError(error)).toContain(
      `ssh authentication failed: the server refused the Secret's identity for user '${user}'`,
    );
    expectNoKeyMaterial(describeError(error), stranger, deploy);
    // identity.pub that is not the identity's public half is caught before connecting.
    const mixed = await pollError(source({ secret: secret({ "identity.pub": stranger.public }) }));
    expect(mixed.location.field).toBe("identity.pub");
    expectNoKeyMaterial(describeError(mixed), stranger, deploy);
  });

  it("a path that is not a repository reports git-upload-pack's own error", async () => {
    const error = await pollError(source({ url: `ssh://${user}@${sshd.host}:${sshd.port}/nonexistent/repo.git` }));
    expect(error.code).toBe("Remote");
    // sshd may close the channel before it sends the exit status; git's own message is what matters.
    expect(error.message).toMatch(
      /git-upload-pack advertisement failed \((exit 128|the channel closed)\): .*does not appear to be a git repository/,
    );
  });

  it("keeps the last artifact when the server is gone", async () => {
    const s = source();
    const good = await s.poll();
    const stopped = sshd;
    await stopped.stop();
    try {
      const error = await pollError(s);
      expect(error.message).toMatch(/ssh connect failed: ECONNREFUSED/);
      expect(s.lastArtifact()).toBe(good.artifact);
    } finally {
      sshd = await startSshd({ authorizedKeys: [deploy.public, rsaPem.public] });
    }
  });
});
