import fs from "node:fs";
import { join, resolve } from "node:path";
import git from "isomorphic-git";
import { NotFoundError } from "../core/errors.js";
import type { MemoryTree } from "../core/file-tree.js";
import { materializeCommit } from "./materialize.js";
import type { RemoteRef } from "./resolve-ref.js";

/** The refs of a local repository, as a remote would list them (annotated tags peeled). */
export async function localRefs(gitdir: string): Promise<RemoteRef[]> {
  const out: RemoteRef[] = [];
  const cache = {};
  for (const branch of await git.listBranches({ fs, gitdir })) {
    out.push({ ref: `refs/heads/${branch}`, oid: await git.resolveRef({ fs, gitdir, ref: `refs/heads/${branch}` }) });
  }
  for (const tag of await git.listTags({ fs, gitdir })) {
    const oid = await git.resolveRef({ fs, gitdir, ref: `refs/tags/${tag}` });
    const { type } = await git.readObject({ fs, gitdir, oid, format: "parsed", cache });
    if (type === "tag") {
      const { tag: t } = await git.readTag({ fs, gitdir, oid, cache });
      out.push({ ref: `refs/tags/${tag}`, oid, peeled: t.object });
    } else out.push({ ref: `refs/tags/${tag}`, oid });
  }
  return out;
}

export interface CommitInfo {
  sha: string;
  parents: string[];
  title: string;
  body: string;
  author: string;
  timestamp: number;
}

/** A git repository on this machine, read with isomorphic-git: refs, trees and history. */
export class LocalRepository {
  private readonly cache = {};

  private constructor(
    readonly dir: string,
    readonly gitdir: string,
  ) {}

  /** Opens the repository at `dir` (a work tree or a bare repository). */
  static open(dir: string): LocalRepository {
    const abs = resolve(dir);
    const gitdir = fs.existsSync(join(abs, ".git")) ? join(abs, ".git") : abs;
    if (!fs.existsSync(join(gitdir, "HEAD")))
      throw new NotFoundError(`'${dir}' is not a git repository`, { file: dir });
    return new LocalRepository(abs, gitdir);
  }

  /** The commit a ref names: a branch, a tag, a full ref, HEAD, or a (possibly abbreviated) SHA. */
  async resolve(ref: string): Promise<string> {
    const candidates =
      ref === "HEAD" ? ["HEAD"] : [ref, `refs/heads/${ref}`, `refs/tags/${ref}`, `refs/remotes/origin/${ref}`];
    for (const c of candidates) {
      try {
        const oid = await git.resolveRef({ fs, gitdir: this.gitdir, ref: c });
        return await this.peel(oid);
      } catch {
        // try the next form
      }
    }
    if (/^[0-9a-f]{4,40}$/.test(ref)) {
      try {
        return await this.peel(await git.expandOid({ fs, gitdir: this.gitdir, oid: ref, cache: this.cache }));
      } catch {
        // fall through
      }
    }
    throw new NotFoundError(`ref '${ref}' does not exist in ${this.dir}`, { field: "ref" });
  }

  private async peel(oid: string): Promise<string> {
    const { type } = await git.readObject({ fs, gitdir: this.gitdir, oid, format: "parsed", cache: this.cache });
    if (type === "tag")
      return this.peel((await git.readTag({ fs, gitdir: this.gitdir, oid, cache: this.cache })).tag.object);
    return oid;
  }

  /** The files of a commit (Flux's exclusions applied). */
  tree(commit: string, label?: string): Promise<MemoryTree> {
    return materializeCommit({
      fs,
      gitdir: this.gitdir,
      commit,
      label: label ?? `${this.dir}@${commit.slice(0, 12)}`,
      cache: this.cache,
    });
  }

  async tags(): Promise<string[]> {
    return git.listTags({ fs, gitdir: this.gitdir });
  }

  async refs(): Promise<RemoteRef[]> {
    return localRefs(this.gitdir);
  }

  /** The URL of a remote, if configured. */
  async remoteUrl(remote = "origin"): Promise<string | undefined> {
    return (await git.getConfig({ fs, gitdir: this.gitdir, path: `remote.${remote}.url` })) as string | undefined;
  }

  /** Commits reachable from `to` and not from `from` (newest first), like `git log from..to`. */
  async log(from: string | undefined, to: string): Promise<CommitInfo[]> {
    const exclude = new Set<string>();
    if (from) for (const c of await this.walk(from)) exclude.add(c.sha);
    return (await this.walk(to)).filter((c) => !exclude.has(c.sha));
  }

  private async walk(ref: string): Promise<CommitInfo[]> {
    const entries = await git.log({ fs, gitdir: this.gitdir, ref: await this.resolve(ref), cache: this.cache });
    return entries.map((e) => {
      const [title = "", ...rest] = e.commit.message.split("\n");
      return {
        sha: e.oid,
        parents: e.commit.parent,
        title,
        body: rest.join("\n").trim(),
        author: e.commit.author.name,
        timestamp: e.commit.author.timestamp,
      };
    });
  }
}
