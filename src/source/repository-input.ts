import { existsSync } from "node:fs";
import { resolve } from "node:path";
import type { FileTree } from "../core/file-tree.js";
import { NotFoundError } from "../core/errors.js";
import { pollDefaultBranch } from "./default-branch-source.js";
import { GitSource } from "./git-source.js";
import { LocalRepository } from "./local-repository.js";
import { defaultBranch, highestTag } from "./resolve-ref.js";
import { WorkTree } from "./work-tree.js";

/**
 * How CLI commands read a platform repository: a local folder (its work tree, or a ref of its git
 * history) or a URL (through the source stage). `tree(ref)` gives a revision's files;
 * `releaseTag()` the highest semver tag, which is the release source by default.
 */
export interface RepositoryInput {
  label: string;
  url?: string;
  tree(ref?: string): Promise<FileTree>;
  tags(): Promise<string[]>;
  releaseTag(): Promise<string | undefined>;
  /** The branch the fleet's `main` source follows unless flotilla.yaml names one: `main`, else `master`. */
  defaultBranch(): Promise<string>;
  local?: LocalRepository;
}

export async function openRepositoryInput(repo: string | undefined): Promise<RepositoryInput> {
  const target = repo ?? ".";
  if (/^(https?|ssh|file):\/\//.test(target) || /^[^/@]+@[^:]+:/.test(target)) {
    const tagsOf = async () => {
      const probe = new GitSource({ url: target, ref: { semver: "*" } });
      try {
        return [(await probe.poll()).artifact.ref];
      } catch {
        return [];
      }
    };
    // Without a ref, the default branch: main, else master (Flux's default).
    let branch = "main";
    const treeAt = async (ref: string) =>
      (await new GitSource({ url: target, ref: refSpec(ref) }).poll()).artifact.tree;
    return {
      label: target,
      url: target,
      tree: async (ref) => {
        if (ref) return treeAt(ref);
        const found = await pollDefaultBranch({ url: target });
        branch = found.branch;
        return found.artifact.tree;
      },
      tags: tagsOf,
      releaseTag: async () => (await tagsOf())[0],
      defaultBranch: async () => branch,
    };
  }
  const dir = resolve(target);
  if (!existsSync(dir)) throw new NotFoundError(`repository '${target}' does not exist`, { field: "--repo" });
  const local =
    existsSync(resolve(dir, ".git")) || existsSync(resolve(dir, "HEAD")) ? LocalRepository.open(dir) : undefined;
  const url = (await local?.remoteUrl()) ?? `file://${dir}`;
  // One tree per commit, so renders of the same revision are shared by identity.
  const byCommit = new Map<string, Promise<FileTree>>();
  return {
    label: dir,
    url,
    local,
    tree: async (ref) => {
      if (!ref) return new WorkTree(dir);
      if (!local)
        throw new NotFoundError(`'${dir}' is not a git repository, so --ref '${ref}' cannot be read`, {
          field: "--ref",
        });
      const commit = await local.resolve(ref);
      let tree = byCommit.get(commit);
      if (!tree) byCommit.set(commit, (tree = local.tree(commit, `${ref}@${commit.slice(0, 12)}`)));
      return tree;
    },
    tags: async () => (local ? local.tags() : []),
    releaseTag: async () => (local ? highestTag(await local.tags(), "*") : undefined),
    defaultBranch: async () =>
      (local
        ? defaultBranch(
            (await local.refs())
              .filter((r) => r.ref.startsWith("refs/heads/"))
              .map((r) => r.ref.slice("refs/heads/".length)),
          )
        : undefined) ?? "main",
  };
}

function refSpec(ref: string): { branch?: string; tag?: string; commit?: string; name?: string } {
  if (/^[0-9a-f]{40}$/.test(ref)) return { commit: ref };
  if (ref.startsWith("refs/")) return { name: ref };
  if (/^v?\d+\.\d+\.\d+/.test(ref)) return { tag: ref };
  return { branch: ref };
}
