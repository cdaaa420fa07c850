import { createHash } from "node:crypto";
import fs from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import git from "isomorphic-git";
import type { Logger } from "pino";
import { RefusedError, TimeoutError } from "../core/errors.js";
import type { FileTree } from "../core/file-tree.js";
import type { GitRepositoryRef } from "../core/flux.js";
import { silentLogger } from "../core/log.js";
import { remoteFailure, sanitizeUrl } from "./errors.js";
import { makeHttpClient } from "./http-client.js";
import type { SourceLimits } from "./limits.js";
import { localRefs } from "./local-repository.js";
import { materializeCommit } from "./materialize.js";
import { resolveRef, type RemoteRef, type ResolvedRef } from "./resolve-ref.js";
import { SSH_PROXY_URL, SshTransport } from "./ssh-transport.js";
import { isSshUrl } from "./ssh-url.js";
import { resentObjects, withThinPack } from "./thin-pack.js";

/** A revision's files with its Flux revision string. */
export interface Artifact {
  /** `main@sha1:<40 hex>` */
  revision: string;
  commit: string;
  /** The ref name the revision starts with (`main`, `v0.0.3`). */
  ref: string;
  tree: FileTree;
}

export interface SourceSpec {
  url: string;
  ref?: GitRepositoryRef;
  /** A GitRepository Secret's data, decoded: username/password, bearerToken, ca.crt, identity, known_hosts. */
  secret?: Record<string, string>;
  ignore?: string;
  timeoutMs?: number;
  cacheDir?: string;
  /** Size bounds on what is read (responses, files, the artifact); DEFAULT_SOURCE_LIMITS when absent. */
  limits?: SourceLimits;
  /**
   * Who `secret` is, never derived from its values: the controller passes the Secret's
   * `namespace/name/uid`. With the URL it keys the git cache, so a source only ever reads commits
   * that its own URL and credentials fetched.
   */
  credentialsIdentity?: string;
}

export function defaultCacheDir(): string {
  return process.env.FLOTILLA_CACHE ?? join(homedir(), ".cache", "flotilla");
}

/**
 * The last commit fetched into a source's object store. isomorphic-git offers as `have` only the
 * local ref named by `ref`, and the fetched refs live under refs/remotes/: without this ref every
 * fetch would resend the whole tree of the new commit.
 */
const HAVE_REF = "refs/flotilla/have";

/** The fetches into each object store in this process, chained (see pollRemoteOnce). */
const storeLocks = new Map<string, Promise<void>>();

async function withStoreLock(gitdir: string, run: () => Promise<void>): Promise<void> {
  const result = (storeLocks.get(gitdir) ?? Promise.resolve()).then(run);
  const tail = result.catch(() => undefined);
  storeLocks.set(gitdir, tail);
  void tail.then(() => {
    if (storeLocks.get(gitdir) === tail) storeLocks.delete(gitdir);
  });
  return result;
}

/**
 * The git cache folder of a source: its URL and who its credentials are. A commit fetched with one
 * tenant's credentials is then never served to a source with other (or no) credentials that asks
 * for it by a bare `ref.commit`; sources with the same URL and Secret share a folder.
 */
export function cacheKey(spec: Pick<SourceSpec, "url" | "secret" | "credentialsIdentity">): string {
  const who = spec.credentialsIdentity ?? (spec.secret ? "unnamed-credentials" : "anonymous");
  return createHash("sha256").update(`${spec.url}\u0000${who}`).digest("hex").slice(0, 16);
}

const isLocal = (url: string) =>
  url.startsWith("file://") || url.startsWith("/") || url.startsWith("./") || url.startsWith("../");
const isHttp = (url: string) => /^https?:\/\//.test(url);

/**
 * Tracks one GitRepository: `poll` lists the remote's refs (cheap), and fetches only when the
 * resolved commit is new and not already in the local object store under the cache folder. The
 * last good artifact stays available when the remote fails.
 */
export class GitSource {
  private last: Artifact | undefined;
  private readonly trees = new Map<string, FileTree>();
  private readonly gitdir: string;
  private readonly objectCache = {};
  /** The last materialized commit's blobs by object id: the next commit reads only what changed. */
  private readonly blobs = new Map<string, Uint8Array>();
  private readonly log: Logger;
  /** Set for ssh:// and scp-like URLs: git's protocol over SSH, posing as isomorphic-git's HTTP client. */
  private readonly ssh: SshTransport | undefined;

  constructor(
    private readonly spec: SourceSpec,
    deps: { logger?: Logger } = {},
  ) {
    if (!isLocal(spec.url) && !isHttp(spec.url) && !isSshUrl(spec.url)) {
      throw new RefusedError(
        `'${sanitizeUrl(spec.url)}' is not a git URL Flotilla can read (https://, http://, ssh://, git@host:path, file:// or a path)`,
        { field: "spec.url" },
      );
    }
    this.ssh =
      !isLocal(spec.url) && !isHttp(spec.url)
        ? new SshTransport(spec.url, {
            secret: spec.secret,
            readyTimeoutMs: spec.timeoutMs ?? 60_000,
            ...(spec.limits ? { limits: spec.limits } : {}),
          })
        : undefined;
    this.log = (deps.logger ?? silentLogger).child({ source: sanitizeUrl(spec.url) });
    this.gitdir = isLocal(spec.url) ? "" : join(spec.cacheDir ?? defaultCacheDir(), "git", cacheKey(spec));
  }

  /** The last artifact a poll produced, kept while the remote is broken. */
  lastArtifact(): Artifact | undefined {
    return this.last;
  }

  /**
   * The artifact of an earlier revision (`<ref>@sha1:<commit>`) when its commit is in the local
   * cache, without contacting the remote; undefined otherwise. A rollout pins clusters not yet
   * reached to such a revision, and a restarted controller reads it back from here.
   */
  async artifactAt(revision: string): Promise<Artifact | undefined> {
    const m = /^(.+)@sha1:([0-9a-f]{40})$/.exec(revision);
    if (!m) return undefined;
    const local = isLocal(this.spec.url) ? resolve(this.spec.url.replace(/^file:\/\//, "")) : undefined;
    const gitdir = local ? (fs.existsSync(join(local, ".git")) ? join(local, ".git") : local) : this.gitdir;
    try {
      await git.readCommit({ fs, gitdir, oid: m[2]!, cache: this.objectCache });
    } catch {
      return undefined;
    }
    return this.artifactOf(gitdir, m[2]!, revision, m[1]!);
  }

  /** Resolves the ref and returns its artifact; `changed` says whether the revision is new. */
  async poll(): Promise<{ artifact: Artifact; changed: boolean }> {
    const artifact = isLocal(this.spec.url) ? await this.pollLocal() : await this.pollRemote();
    const changed = this.last?.revision !== artifact.revision;
    this.last = artifact;
    return { artifact, changed };
  }

  private async pollLocal(): Promise<Artifact> {
    const dir = resolve(this.spec.url.replace(/^file:\/\//, ""));
    const gitdir = fs.existsSync(join(dir, ".git")) ? join(dir, ".git") : dir;
    const refs = await localRefs(gitdir);
    const resolved = resolveRef(this.spec.ref, refs, sanitizeUrl(this.spec.url));
    return this.artifactOf(gitdir, resolved.commit, resolved.revision, resolved.name);
  }

  private async withTimeout<T>(step: string, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    const ms = this.spec.timeoutMs ?? 60_000;
    const timer = setTimeout(
      () => controller.abort(new TimeoutError(`${sanitizeUrl(this.spec.url)}: ${step} timed out after ${ms} ms`)),
      ms,
    );
    try {
      return await Promise.race([
        run(controller.signal),
        new Promise<never>((_, reject) =>
          controller.signal.addEventListener("abort", () => reject(controller.signal.reason as Error), { once: true }),
        ),
      ]);
    } catch (error) {
      throw remoteFailure(this.spec.url, step, error, this.secretValues());
    } finally {
      clearTimeout(timer);
    }
  }

  private secretValues(): string[] {
    const s = this.spec.secret ?? {};
    return [s.password, s.bearerToken, s.identity].filter((x): x is string => !!x);
  }

  private auth(signal: AbortSignal, thin = true) {
    // Thin packs: a shallow fetch of a new commit then carries only the objects the cache lacks.
    if (this.ssh) return { http: withThinPack(this.ssh.http(signal), thin) };
    const s = this.spec.secret ?? {};
    const headers: Record<string, string> = {};
    if (s.bearerToken) headers.Authorization = `Bearer ${s.bearerToken}`;
    const http = withThinPack(
      makeHttpClient({
        headers,
        signal,
        source: sanitizeUrl(this.spec.url),
        ...(this.spec.limits ? { limits: this.spec.limits } : {}),
        ...(s["ca.crt"] ? { ca: s["ca.crt"] } : s.caFile ? { ca: s.caFile } : {}),
      }),
      thin,
    );
    const onAuth =
      s.username !== undefined || s.password !== undefined
        ? () => ({ username: s.username ?? "git", password: s.password ?? "" })
        : undefined;
    const onAuthFailure = () => ({ cancel: true });
    return { http, ...(onAuth ? { onAuth, onAuthFailure } : {}) };
  }

  private async pollRemote(): Promise<Artifact> {
    try {
      return await this.pollRemoteOnce();
    } finally {
      this.ssh?.close();
    }
  }

  private async pollRemoteOnce(): Promise<Artifact> {
    const url = this.spec.url;
    // isomorphic-git is handed an http URL for SSH remotes; the transport knows the real one.
    const gitUrl = this.ssh ? SSH_PROXY_URL : url;
    const serverRefs = await this.withTimeout("list refs", async (signal) => {
      const refs = await git.listServerRefs({
        ...this.auth(signal),
        url: gitUrl,
        protocolVersion: 2,
        peelTags: true,
        symrefs: false,
      });
      return refs.map((r): RemoteRef => ({ ref: r.ref, oid: r.oid, ...(r.peeled ? { peeled: r.peeled } : {}) }));
    });
    const resolved = resolveRef(this.spec.ref, serverRefs, sanitizeUrl(url));
    if (this.last && this.last.commit === resolved.commit && this.last.revision === resolved.revision) return this.last;
    if (!(await this.hasCommit(resolved.commit))) {
      // Sources of one URL share an object store; their fetches into it run one at a time, or one
      // reads the shallow file another has just written and tells the server it holds a commit
      // whose pack is not written yet (the server then sends nothing).
      await withStoreLock(this.gitdir, async () => {
        if (!(await this.hasCommit(resolved.commit))) await this.fetchCommit(resolved, gitUrl);
      });
    }
    return this.artifactOf(this.gitdir, resolved.commit, resolved.revision, resolved.name);
  }

  /** Fetches `resolved.commit` (depth 1, thin) into the object store; throws when it did not arrive. */
  private async fetchCommit(resolved: ResolvedRef, gitUrl: string): Promise<void> {
    const url = this.spec.url;
    await fs.promises.mkdir(this.gitdir, { recursive: true });
    if (!fs.existsSync(join(this.gitdir, "HEAD"))) {
      await git.init({ fs, gitdir: this.gitdir, bare: true });
      await git.addRemote({ fs, gitdir: this.gitdir, remote: "origin", url: "flotilla://remote", force: true });
    }
    this.log.info({ revision: resolved.revision }, "fetching");
    await this.dropShallowWithoutCommit();
    const have =
      resolved.fetchRef && (await git.resolveRef({ fs, gitdir: this.gitdir, ref: HAVE_REF }).catch(() => undefined))
        ? HAVE_REF
        : resolved.fetchRef;
    const fetch = (thin: boolean) =>
      this.withTimeout("fetch", (signal) =>
        git.fetch({
          fs,
          ...this.auth(signal, thin),
          gitdir: this.gitdir,
          url: gitUrl,
          remote: "origin",
          ...(resolved.fetchRef ? { ref: have, remoteRef: resolved.fetchRef } : {}),
          singleBranch: true,
          tags: false,
          depth: 1,
          cache: this.objectCache,
        }),
      );
    const packs = async () =>
      (await fs.promises.readdir(join(this.gitdir, "objects", "pack")).catch(() => [] as string[])).filter((f) =>
        f.endsWith(".pack"),
      );
    const before = new Set(await packs());
    await fetch(true);
    const packfile = (await packs()).filter((f) => !before.has(f)).map((f) => join("objects", "pack", f))[0];
    // A thin pack that resends objects already held may be unreadable (see resentObjects): drop it
    // and fetch a self-contained one.
    const resent = packfile ? await resentObjects(this.gitdir, packfile) : 0;
    if (packfile && resent > 0) {
      this.log.warn(
        { revision: resolved.revision, resent },
        "the server resent objects already held; fetching again without a thin pack",
      );
      await fs.promises.rm(join(this.gitdir, packfile), { force: true });
      await fs.promises.rm(join(this.gitdir, packfile.replace(/\.pack$/, ".idx")), { force: true });
      await fetch(false);
    }
    if (!(await this.hasCommit(resolved.commit))) {
      throw remoteFailure(url, "fetch", new Error(`the server did not send commit ${resolved.commit}`));
    }
    await git.writeRef({ fs, gitdir: this.gitdir, ref: HAVE_REF, value: resolved.commit, force: true });
  }

  /**
   * isomorphic-git writes the `shallow` file, naming the commit it fetches, before the pack that
   * holds that commit. A fetch killed in between (a controller SIGKILLed mid-fetch) leaves a line
   * for a commit the store lacks; the next fetch then tells the server it has that commit, the
   * server sends nothing, and every fetch into this cache fails from then on. Such lines go.
   */
  private async dropShallowWithoutCommit(): Promise<void> {
    const file = join(this.gitdir, "shallow");
    const oids = (await fs.promises.readFile(file, "utf8").catch(() => "")).split("\n").filter((l) => l.trim() !== "");
    const kept: string[] = [];
    for (const oid of oids) if (/^[0-9a-f]{40}$/.test(oid) && (await this.hasCommit(oid))) kept.push(oid);
    if (kept.length === oids.length) return;
    this.log.warn(
      { dropped: oids.length - kept.length },
      "the cache's shallow file named commits it does not hold (an interrupted fetch); dropped them",
    );
    await fs.promises.writeFile(file, kept.map((oid) => `${oid}\n`).join(""));
  }

  private async hasCommit(oid: string): Promise<boolean> {
    if (!fs.existsSync(this.gitdir)) return false;
    try {
      await git.readCommit({ fs, gitdir: this.gitdir, oid, cache: this.objectCache });
      return true;
    } catch {
      return false;
    }
  }

  private async artifactOf(gitdir: string, commit: string, revision: string, ref: string): Promise<Artifact> {
    let tree = this.trees.get(commit);
    if (!tree) {
      tree = await materializeCommit({
        fs,
        gitdir,
        commit,
        label: `${sanitizeUrl(this.spec.url)}@${revision}`,
        ...(this.spec.ignore ? { ignore: this.spec.ignore } : {}),
        ...(this.spec.limits ? { limits: this.spec.limits } : {}),
        cache: this.objectCache,
        blobs: this.blobs,
      });
      if (this.trees.size >= 8) this.trees.delete(this.trees.keys().next().value!);
      this.trees.set(commit, tree);
    }
    return { revision, commit, ref, tree };
  }
}
