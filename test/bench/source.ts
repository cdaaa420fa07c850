import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FileTree } from "../../src/core/file-tree.js";
import { GitSource } from "../../src/source/git-source.js";
import { startGitHttpServer } from "../support/git-http-server.js";
import { generateKeyPair, startSshd, type Sshd } from "../support/sshd.js";
import { measureProcess } from "./measure.js";
import { printJson, printTable, type Row } from "./report.js";

/**
 * `npm run bench -- source`: a repository built with `git fast-import` (SOURCE_BENCH_COMMITS commits,
 * default 10,000; SOURCE_BENCH_FILES YAML files, default 5,000; 20 annotated v* tags), served over
 * smart HTTP (git http-backend) and over SSH (a real sshd) on loopback. Flotilla's GitSource runs in
 * a child process (its peak RSS is the memory figure) through: first fetch to artifact, no-change
 * polls, one new commit fetched and materialized, and a semver pick among the tags; the git CLI does
 * the same beside it (`git clone --depth 1`, `git ls-remote`, `git fetch --depth 1` + `git checkout`,
 * `git ls-remote --tags`). Goals (issue 4): a no-change poll under 50 ms; a new commit ready in at
 * most twice git fetch + checkout.
 */

const POLLS = 15;
const NEW_COMMITS = 5;
const TAGS = 20;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;
const round = (x: number) => Math.round(x * 10) / 10;
const yaml = (i: number, rev: number) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-${i}\n  namespace: app-${Math.floor(i / 100)}\ndata:\n  revision: "${rev}"\n`;
const filePath = (i: number) => `apps/app-${Math.floor(i / 100)}/cm-${i}.yaml`;

/** A fast-import stream: one commit with every file, then one-file commits, annotated tags spread over them. */
function fastImportStream(files: number, commits: number): Buffer {
  const parts: string[] = [];
  const data = (s: string) => `data ${Buffer.byteLength(s)}\n${s}\n`;
  const tagEvery = Math.max(1, Math.floor(commits / TAGS));
  let tag = 0;
  for (let c = 1; c <= commits; c++) {
    parts.push(
      `commit refs/heads/main\nmark :${c}\ncommitter Dev <dev@example.com> ${1_700_000_000 + c} +0000\n${data(`chore: change ${c}`)}`,
    );
    if (c > 1) parts.push(`from :${c - 1}\n`);
    if (c === 1) for (let i = 0; i < files; i++) parts.push(`M 100644 inline ${filePath(i)}\n${data(yaml(i, 1))}`);
    else {
      const i = (c * 7919) % files;
      parts.push(`M 100644 inline ${filePath(i)}\n${data(yaml(i, c))}`);
    }
    if (c % tagEvery === 0 && tag < TAGS) {
      tag++;
      parts.push(
        `tag v0.${tag}.0\nfrom :${c}\ntagger Dev <dev@example.com> ${1_700_000_000 + c} +0000\n${data(`release v0.${tag}.0`)}`,
      );
    }
  }
  return Buffer.from(parts.join(""));
}

/** One more commit on main, changing one file, written straight into the bare repository. */
function addCommit(bare: string, n: number, files: number): string {
  const i = (n * 104729) % files;
  const content = yaml(i, 1_000_000 + n);
  const stream = `commit refs/heads/main\ncommitter Dev <dev@example.com> ${1_800_000_000 + n} +0000\ndata 12\nchore: next\nfrom refs/heads/main^0\nM 100644 inline ${filePath(i)}\ndata ${Buffer.byteLength(content)}\n${content}\n`;
  execFileSync("git", ["-C", bare, "fast-import", "--quiet"], { input: stream });
  return execFileSync("git", ["-C", bare, "rev-parse", "refs/heads/main"], { encoding: "utf8" }).trim();
}

interface ChildConfig {
  url: string;
  secret?: Record<string, string>;
  cacheDir: string;
  bare: string;
  files: number;
  commitBase: number;
}
interface ChildResult {
  firstMs: number;
  firstFiles: number;
  rssAfterFirstMiB: number;
  noChangeMs: number[];
  newCommitMs: number[];
  semverMs: number[];
  semverTag: string;
}

function countFiles(tree: FileTree, dir = ""): number {
  let n = 0;
  for (const name of tree.list(dir)) {
    const path = dir ? `${dir}/${name}` : name;
    n += tree.kind(path) === "dir" ? countFiles(tree, path) : 1;
  }
  return n;
}

/** The Flotilla side, in its own process so that its memory is measured alone. */
async function child(config: ChildConfig): Promise<ChildResult> {
  const spec = { url: config.url, cacheDir: config.cacheDir, ...(config.secret ? { secret: config.secret } : {}) };
  const source = new GitSource({ ...spec, ref: { branch: "main" } });
  let t = process.hrtime.bigint();
  const first = await source.poll();
  const firstMs = ms(t);
  const rssAfterFirstMiB = round(process.memoryUsage().rss / 2 ** 20);
  const noChangeMs: number[] = [];
  for (let i = 0; i < POLLS; i++) {
    t = process.hrtime.bigint();
    const { changed } = await source.poll();
    noChangeMs.push(ms(t));
    if (changed) throw new Error("a no-change poll reported a change");
  }
  const newCommitMs: number[] = [];
  for (let n = 0; n < NEW_COMMITS; n++) {
    const sha = addCommit(config.bare, config.commitBase + n, config.files);
    t = process.hrtime.bigint();
    const { artifact, changed } = await source.poll();
    newCommitMs.push(ms(t));
    if (!changed || artifact.commit !== sha)
      throw new Error(`the poll after commit ${sha} returned ${artifact.revision}`);
  }
  const semver = new GitSource({ ...spec, ref: { semver: ">=0.1.0" } });
  const picked = await semver.poll();
  const semverMs: number[] = [];
  for (let i = 0; i < POLLS; i++) {
    t = process.hrtime.bigint();
    await semver.poll();
    semverMs.push(ms(t));
  }
  return {
    firstMs,
    firstFiles: countFiles(first.artifact.tree),
    rssAfterFirstMiB,
    noChangeMs,
    newCommitMs,
    semverMs,
    semverTag: picked.artifact.ref,
  };
}

/** The git CLI doing the same steps, each a measured process. */
async function gitCli(
  url: string,
  bare: string,
  files: number,
  commitBase: number,
  env: NodeJS.ProcessEnv = {},
): Promise<{ cloneMs: number; lsRemoteMs: number; fetchCheckoutMs: number; lsTagsMs: number }> {
  const dir = mkdtempSync(join(tmpdir(), "flotilla-bench-clone-"));
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const run = async (args: string[], cwd?: string) => {
      const m = await measureProcess("git", args, cwd ? { cwd } : {});
      if (m.exitCode !== 0) throw new Error(`git ${args.join(" ")} failed: ${m.stderr}`);
      return m.seconds * 1000;
    };
    const cloneMs = await run(["clone", "-q", "--depth", "1", "--branch", "main", url, join(dir, "c")]);
    const ls: number[] = [];
    for (let i = 0; i < POLLS; i++) ls.push(await run(["ls-remote", url]));
    const fc: number[] = [];
    for (let n = 0; n < NEW_COMMITS; n++) {
      addCommit(bare, commitBase + n, files);
      const fetch = await run(["fetch", "-q", "--depth", "1", "origin", "main"], join(dir, "c"));
      const checkout = await run(["checkout", "-q", "FETCH_HEAD"], join(dir, "c"));
      fc.push(fetch + checkout);
    }
    const tags: number[] = [];
    for (let i = 0; i < POLLS; i++) tags.push(await run(["ls-remote", "--tags", url]));
    return { cloneMs, lsRemoteMs: median(ls), fetchCheckoutMs: median(fc), lsTagsMs: median(tags) };
  } finally {
    for (const k of Object.keys(env)) delete process.env[k];
    Object.assign(process.env, saved);
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<void> {
  const files = Number(process.env.SOURCE_BENCH_FILES ?? 5000);
  const commits = Number(process.env.SOURCE_BENCH_COMMITS ?? 10_000);
  const root = mkdtempSync(join(tmpdir(), "flotilla-bench-source-"));
  const bare = join(root, "platform.git");
  let sshd: Sshd | undefined;
  const t = process.hrtime.bigint();
  execFileSync("git", ["init", "-q", "--bare", bare]);
  execFileSync("git", ["-C", bare, "fast-import", "--quiet"], {
    input: fastImportStream(files, commits),
    maxBuffer: 1 << 30,
  });
  execFileSync("git", ["-C", bare, "symbolic-ref", "HEAD", "refs/heads/main"]);
  process.stdout.write(
    `repository: ${commits} commits, ${files} files, ${TAGS} tags, built by git fast-import in ${round(ms(t) / 1000)} s\n`,
  );
  const server = await startGitHttpServer(root);
  const rows: Row[] = [];
  try {
    const transports: { name: string; url: string; secret?: Record<string, string>; env?: NodeJS.ProcessEnv }[] = [
      { name: "http", url: `${server.url}/platform.git` },
    ];
    if (!process.env.SOURCE_BENCH_NO_SSH) {
      const keys = join(root, "keys");
      mkdirSync(keys);
      const key = generateKeyPair(keys, "deploy");
      sshd = await startSshd({ authorizedKeys: [key.public] });
      writeFileSync(join(keys, "known_hosts"), `${sshd.knownHosts}\n`);
      transports.push({
        name: "ssh",
        url: `ssh://${userInfo().username}@${sshd.host}:${sshd.port}${bare}`,
        secret: { identity: key.private, known_hosts: sshd.knownHosts },
        env: {
          GIT_SSH_COMMAND: `ssh -i ${join(keys, "deploy")} -o IdentitiesOnly=yes -o UserKnownHostsFile=${join(keys, "known_hosts")} -o StrictHostKeyChecking=yes -o BatchMode=yes`,
        },
      });
    }
    let commitBase = 0;
    for (const transport of transports) {
      const cacheDir = mkdtempSync(join(tmpdir(), "flotilla-bench-source-cache-"));
      try {
        const config: ChildConfig = {
          url: transport.url,
          ...(transport.secret ? { secret: transport.secret } : {}),
          cacheDir,
          bare,
          files,
          commitBase,
        };
        commitBase += 100;
        const m = await measureProcess(process.execPath, [
          fileURLToPath(import.meta.url),
          "--child",
          JSON.stringify(config),
        ]);
        if (m.exitCode !== 0) throw new Error(`the Flotilla source process failed over ${transport.name}: ${m.stderr}`);
        const ours = JSON.parse(m.stdout.trim().split("\n").pop()!) as ChildResult;
        const git = await gitCli(transport.url, bare, files, commitBase, transport.env);
        commitBase += 100;
        const noChange = median(ours.noChangeMs);
        // The issue states the poll goal for smart HTTP; over SSH each poll also opens a connection.
        const http = transport.name === "http";
        const newCommit = median(ours.newCommitMs);
        const semver = median(ours.semverMs);
        const figures = [
          {
            step: "first fetch → artifact",
            flotilla: ours.firstMs,
            git: git.cloneMs,
            gitCommand: "git clone --depth 1",
            goal: "-",
            met: null,
          },
          {
            step: `no-change poll (median of ${POLLS})`,
            flotilla: noChange,
            git: git.lsRemoteMs,
            gitCommand: "git ls-remote",
            goal: http ? "< 50 ms" : "- (HTTP goal)",
            met: http ? noChange < 50 : null,
          },
          {
            step: `new commit → artifact (median of ${NEW_COMMITS})`,
            flotilla: newCommit,
            git: git.fetchCheckoutMs,
            gitCommand: "git fetch --depth 1 + checkout",
            goal: "≤ 2× git",
            met: newCommit <= 2 * git.fetchCheckoutMs,
          },
          {
            step: `semver pick among ${TAGS} tags (median of ${POLLS})`,
            flotilla: semver,
            git: git.lsTagsMs,
            gitCommand: "git ls-remote --tags",
            goal: "-",
            met: null,
          },
        ];
        for (const f of figures) {
          rows.push({
            transport: transport.name,
            step: f.step,
            "flotilla ms": round(f.flotilla),
            "git ms": round(f.git),
            "git command": f.gitCommand,
            ratio: round(f.flotilla / f.git),
            goal: f.goal,
            met: f.met,
          });
        }
        printJson("source", {
          transport: transport.name,
          commits,
          files,
          tags: TAGS,
          artifactFiles: ours.firstFiles,
          firstFetchMs: round(ours.firstMs),
          gitCloneDepth1Ms: round(git.cloneMs),
          noChangePollMs: round(noChange),
          noChangePollMaxMs: round(Math.max(...ours.noChangeMs)),
          gitLsRemoteMs: round(git.lsRemoteMs),
          newCommitMs: round(newCommit),
          gitFetchCheckoutMs: round(git.fetchCheckoutMs),
          semverPollMs: round(semver),
          semverTag: ours.semverTag,
          gitLsRemoteTagsMs: round(git.lsTagsMs),
          rssAfterFirstFetchMiB: ours.rssAfterFirstMiB,
          peakRssMiB: m.peakMiB,
          goalNoChangeUnder50Ms: http ? noChange < 50 : null,
          goalNewCommitWithin2xGit: newCommit <= 2 * git.fetchCheckoutMs,
        });
        rows.push({
          transport: transport.name,
          step: "Flotilla process peak RSS (MiB)",
          "flotilla ms": m.peakMiB,
          "git ms": null,
          "git command": "-",
          ratio: null,
          goal: "-",
          met: null,
        });
      } finally {
        rmSync(cacheDir, { recursive: true, force: true });
      }
    }
    printTable(
      `source: ${commits} commits × ${files} files, ${TAGS} tags, loopback (goals: no-change poll < 50 ms; new commit ≤ 2× git fetch + checkout)`,
      rows,
    );
  } finally {
    await sshd?.stop();
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[2] === "--child" && process.argv[1] === fileURLToPath(import.meta.url)) {
  child(JSON.parse(process.argv[3]!) as ChildConfig)
    .then((result) => process.stdout.write(`${JSON.stringify(result)}\n`))
    .catch((error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 2;
    });
}
