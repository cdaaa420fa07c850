import fs from "node:fs";
import git from "isomorphic-git";
import semver from "semver";
import { parseAllDocuments } from "yaml";
import { ConflictError, InvalidInputError, NotFoundError, RemoteError } from "../core/errors.js";
import type { GitRepository, Kustomization } from "../core/flux.js";
import { CONFIG_FILE, LABEL_ENVIRONMENT, planRepository, type PlanResult } from "../plan/index.js";
import {
  makeHttpClient,
  sanitizeUrl,
  tagVersion,
  type LocalRepository,
  type RepositoryInput,
} from "../source/index.js";
import { forgeLinks } from "./forge.js";
import { commitFileChange } from "./git-write.js";
import { releaseNotes } from "./history.js";
import { formatReleaseNotesMarkdown } from "./release-notes.js";

export interface PromoteOptions {
  tag: string;
  /** The environment whose release source moves (default `prod`). */
  env?: string;
  /** Push the branch to `origin` over HTTPS and return the page that opens its pull request. */
  push?: boolean;
  remoteBranch?: string;
}

/** What `promote` wrote. */
export interface Promotion {
  branch: string;
  commit: string;
  title: string;
  file: string;
  from: string | null;
  to: string;
  pushed: boolean;
  pullRequest: string | null;
}

/** The GitRepository an environment follows, the tag it is at now, and the cloud named in the commit title. */
interface ReleaseSource {
  source: GitRepository;
  current?: string;
  cloud: string;
}

/**
 * A branch `promote/<env>-<TAG>` with one commit that moves the environment's release source to TAG
 * (the GitRepository's `spec.ref` in Flux-compatible repositories, `flotilla.yaml` in convention
 * mode), formatting and comments kept, titled `chore(release): promote <TAG> to <cloud> <env>` with
 * the release notes as its body; with `push`, pushed to `origin`. Nothing is left behind when a step fails.
 */
export async function promote(repo: RepositoryInput, opts: PromoteOptions): Promise<Promotion> {
  const { tag } = opts;
  const env = opts.env ?? "prod";
  const local = repo.local;
  if (!local) throw new InvalidInputError("promote works on a local clone; pass --repo DIR", { field: "--repo" });
  await assertCleanWorkTree(local);
  await local.resolve(`refs/tags/${tag}`).catch(() => {
    throw new NotFoundError(`tag '${tag}' does not exist`, { field: "TAG" });
  });

  const head = await local.resolve("HEAD");
  const { result } = await planRepository(repo, head, false);
  const { source, current, cloud } = releaseSourceOf(result, env, tag);
  const { path, content } =
    result.mode === "convention"
      ? await editConfig(local.gitdir, head, tag)
      : await editGitRepository(local.gitdir, head, source, tag);
  const title = `chore(release): promote ${tag} to ${cloud ? `${cloud} ` : ""}${env}`;
  const notes = current
    ? formatReleaseNotesMarkdown(
        await releaseNotes(local, current, tag, repo.url),
        repo.url ? forgeLinks(repo.url) : undefined,
      )
    : "";
  const branch = `promote/${env}-${tag}`;
  const ref = `refs/heads/${branch}`;
  if (
    await git.resolveRef({ fs, gitdir: local.gitdir, ref }).then(
      () => true,
      () => false,
    )
  ) {
    throw new ConflictError(`branch '${branch}' already exists`, { field: "TAG" });
  }
  const commit = await commitFileChange({
    gitdir: local.gitdir,
    parent: head,
    path,
    content,
    message: `${title}\n\n${notes}`,
    author: await authorOf(local.gitdir),
  });
  await git.writeRef({ fs, gitdir: local.gitdir, ref, value: commit });
  const pullRequest = opts.push ? await pushForReview(local, ref, opts.remoteBranch ?? branch) : undefined;
  return {
    branch,
    commit,
    title,
    file: path,
    from: current ?? null,
    to: tag,
    pushed: opts.push ?? false,
    pullRequest: pullRequest ?? null,
  };
}

async function assertCleanWorkTree(local: LocalRepository): Promise<void> {
  const dir = local.dir;
  const dirty = (await git.statusMatrix({ fs, dir, gitdir: local.gitdir })).filter(
    ([, head, work, stage]) => !(head === 1 && work === 1 && stage === 1) && !(head === 0 && work === 0),
  );
  if (dirty.length > 0)
    throw new ConflictError(
      `the work tree has uncommitted changes (${dirty
        .slice(0, 3)
        .map((d) => d[0])
        .join(", ")}${dirty.length > 3 ? ", …" : ""}); commit or stash them first`,
      { file: dir },
    );
}

/** The release source `env` follows, which must be a tag older than `tag` (a semver range or `main` has nothing to promote). */
function releaseSourceOf(result: PlanResult, env: string, tag: string): ReleaseSource {
  const units = result.objects.filter(
    (o): o is Kustomization =>
      o.kind === "Kustomization" &&
      (o.metadata.labels?.[LABEL_ENVIRONMENT] === env ||
        (result.mode === "flux" && o.metadata.namespace.startsWith(`${env}-`))),
  );
  const sourceName =
    units[0]?.spec.sourceRef.name ?? (result.mode === "flux" ? guessFluxSource(result.objects, env) : "release");
  const source = result.objects.find(
    (o): o is GitRepository => o.kind === "GitRepository" && o.metadata.name === sourceName,
  );
  if (!source || sourceName === "main")
    throw new InvalidInputError(
      `environment '${env}' has no release source to move (it follows '${sourceName ?? "nothing"}')`,
      {
        field: "--env",
      },
    );
  const current = source.spec.ref?.tag ?? source.spec.ref?.semver;
  if (source.spec.ref?.semver) {
    throw new InvalidInputError(
      `environment '${env}' follows the semver range '${source.spec.ref.semver}', which picks up new tags by itself; nothing to promote`,
      { field: "--env" },
    );
  }
  if (current && tagVersion(current) && tagVersion(tag) && !semver.gt(tagVersion(tag)!, tagVersion(current)!)) {
    throw new InvalidInputError(`${tag} is not newer than ${current}, which ${env} runs now`, { field: "TAG" });
  }
  const cloud = units.map((u) => u.spec.path?.match(/providers\/([^/]+)\//)?.[1]).find(Boolean) ?? "";
  return { source, ...(current ? { current } : {}), cloud };
}

async function authorOf(gitdir: string): Promise<{ name: string; email: string }> {
  return {
    name: ((await git.getConfig({ fs, gitdir, path: "user.name" })) as string | undefined) ?? "flotilla",
    email: ((await git.getConfig({ fs, gitdir, path: "user.email" })) as string | undefined) ?? "flotilla@localhost",
  };
}

/** Pushes the branch (deleting it locally when the push fails) and returns the forge page that opens its pull request. */
async function pushForReview(local: LocalRepository, ref: string, remoteBranch: string): Promise<string | undefined> {
  try {
    await pushBranch(local.gitdir, ref, remoteBranch);
  } catch (error) {
    await git.deleteRef({ fs, gitdir: local.gitdir, ref });
    throw error;
  }
  const url = (await local.remoteUrl()) ?? "";
  const base = (await git.currentBranch({ fs, gitdir: local.gitdir })) ?? "main";
  return forgeLinks(url)?.newPullRequest(remoteBranch, base);
}

function guessFluxSource(objects: ReadonlyArray<GitRepository | Kustomization>, env: string): string | undefined {
  const unit = objects.find(
    (o): o is Kustomization => o.kind === "Kustomization" && o.metadata.namespace.startsWith(`${env}-`),
  );
  return unit?.spec.sourceRef.name;
}

async function readFileAt(gitdir: string, commit: string, path: string): Promise<string | undefined> {
  try {
    const { blob } = await git.readBlob({ fs, gitdir, oid: commit, filepath: path });
    return Buffer.from(blob).toString("utf8");
  } catch {
    return undefined;
  }
}

async function editConfig(gitdir: string, head: string, tag: string): Promise<{ path: string; content: string }> {
  const text = (await readFileAt(gitdir, head, CONFIG_FILE)) ?? "";
  const docs = parseAllDocuments(text);
  const doc = Array.isArray(docs) && docs[0] ? docs[0] : parseAllDocuments("{}\n")[0]!;
  doc.deleteIn(["sources", "release", "semver"]);
  doc.setIn(["sources", "release", "tag"], tag);
  return { path: CONFIG_FILE, content: doc.toString() };
}

/** Finds the manifest that defines the GitRepository and sets its `spec.ref.tag`, keeping comments and the other documents. */
async function editGitRepository(
  gitdir: string,
  head: string,
  source: GitRepository,
  tag: string,
): Promise<{ path: string; content: string }> {
  const files: string[] = await git.listFiles({ fs, gitdir, ref: head });
  for (const path of files.filter((f) => /\.ya?ml$/.test(f) && f.includes("/mgmt/"))) {
    const text = (await readFileAt(gitdir, head, path)) ?? "";
    if (!text.includes("GitRepository")) continue;
    const docs = parseAllDocuments(text);
    if (!Array.isArray(docs)) continue;
    const target = docs.find(
      (d) =>
        d.get("kind") === "GitRepository" &&
        d.getIn(["metadata", "name"]) === source.metadata.name &&
        (d.getIn(["metadata", "namespace"]) ?? "flux-system") === source.metadata.namespace,
    );
    if (!target) continue;
    target.setIn(["spec", "ref", "tag"], tag);
    for (const k of ["branch", "semver", "commit", "name"]) target.deleteIn(["spec", "ref", k]);
    return { path, content: docs.map((d) => d.toString()).join("") };
  }
  throw new NotFoundError(
    `no manifest under mgmt defines GitRepository ${source.metadata.namespace}/${source.metadata.name}`,
    {
      field: "spec.ref",
    },
  );
}

async function pushBranch(gitdir: string, ref: string, remoteBranch: string): Promise<void> {
  const url = (await git.getConfig({ fs, gitdir, path: "remote.origin.url" })) as string | undefined;
  if (!url) throw new InvalidInputError("the repository has no 'origin' remote to push to", { field: "--push" });
  if (!/^https?:\/\//.test(url))
    throw new InvalidInputError(`pushing to '${sanitizeUrl(url)}' needs an https:// remote`, { field: "--push" });
  const username =
    process.env.FLOTILLA_GIT_USERNAME ??
    process.env.GIT_USERNAME ??
    (process.env.GITHUB_TOKEN ? "x-access-token" : undefined);
  const password =
    process.env.FLOTILLA_GIT_PASSWORD ??
    process.env.GIT_PASSWORD ??
    process.env.GITHUB_TOKEN ??
    process.env.GITLAB_TOKEN;
  try {
    const result = await git.push({
      fs,
      http: makeHttpClient(),
      gitdir,
      url,
      ref,
      remoteRef: `refs/heads/${remoteBranch}`,
      ...(username || password
        ? {
            onAuth: () => ({ username: username ?? "git", password: password ?? "" }),
            onAuthFailure: () => ({ cancel: true }),
          }
        : {}),
    });
    if (!result.ok) throw new Error(result.error ?? "rejected");
  } catch (error) {
    const e = error as { code?: string; data?: { statusCode?: number }; message?: string };
    const why = e.data?.statusCode
      ? `HTTP ${e.data.statusCode}${e.data.statusCode === 401 || e.data.statusCode === 403 ? " (set FLOTILLA_GIT_USERNAME/FLOTILLA_GIT_PASSWORD or GITHUB_TOKEN)" : ""}`
      : (e.message ?? String(error));
    throw new RemoteError(
      `${sanitizeUrl(url)}: push of ${remoteBranch} was rejected: ${password ? why.split(password).join("***") : why}`,
      { object: sanitizeUrl(url), field: "--push" },
    );
  }
}
