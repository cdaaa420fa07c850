import { createHash } from "node:crypto";
import fs from "node:fs";
import git from "isomorphic-git";

/**
 * A commit's patch identity: a digest of the files it changes and their content before and after
 * (path, old blob, new blob). Two commits that make the same change — a cherry-pick, a rebased or
 * re-squashed pull request — share it even when their parents differ elsewhere. Unchanged
 * subtrees are skipped by their tree id, so the cost follows the size of the change.
 */
export async function patchIdentity(gitdir: string, commit: string, cache: object = {}): Promise<string> {
  const { commit: c } = await git.readCommit({ fs, gitdir, oid: commit, cache });
  const parentTree = c.parent[0]
    ? (await git.readCommit({ fs, gitdir, oid: c.parent[0], cache })).commit.tree
    : undefined;
  const changes: string[] = [];
  const entries = async (oid: string | undefined) => (oid ? (await git.readTree({ fs, gitdir, oid, cache })).tree : []);
  const walk = async (a: string | undefined, b: string | undefined, prefix: string): Promise<void> => {
    if (a === b) return;
    const left = new Map((await entries(a)).map((e) => [e.path, e]));
    const right = new Map((await entries(b)).map((e) => [e.path, e]));
    for (const name of [...new Set([...left.keys(), ...right.keys()])].sort()) {
      const x = left.get(name);
      const y = right.get(name);
      if (x?.oid === y?.oid) continue;
      const path = `${prefix}${name}`;
      if ((x?.type ?? "tree") === "tree" && (y?.type ?? "tree") === "tree") await walk(x?.oid, y?.oid, `${path}/`);
      else changes.push(`${path}\u0000${x?.type === "blob" ? x.oid : "-"}\u0000${y?.type === "blob" ? y.oid : "-"}`);
    }
  };
  await walk(parentTree, c.tree, "");
  return createHash("sha256").update(changes.join("\n")).digest("hex");
}
