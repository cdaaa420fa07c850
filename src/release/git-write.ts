import fs from "node:fs";
import git from "isomorphic-git";

/**
 * Writes a commit that changes one file, on top of `parent`, without touching the work tree or the
 * index: new blob, new trees up the path, new commit. Returns the commit's SHA.
 */
export async function commitFileChange(opts: {
  gitdir: string;
  parent: string;
  path: string;
  content: string;
  message: string;
  author: { name: string; email: string };
}): Promise<string> {
  const { gitdir } = opts;
  const blob = await git.writeBlob({ fs, gitdir, blob: Buffer.from(opts.content, "utf8") });
  const { commit } = await git.readCommit({ fs, gitdir, oid: opts.parent });
  const replace = async (treeOid: string | undefined, segments: string[]): Promise<string> => {
    const entries = treeOid ? (await git.readTree({ fs, gitdir, oid: treeOid })).tree : [];
    const [name, ...rest] = segments as [string, ...string[]];
    const existing = entries.find((e) => e.path === name);
    const oid = rest.length === 0 ? blob : await replace(existing?.type === "tree" ? existing.oid : undefined, rest);
    const next = entries.filter((e) => e.path !== name);
    next.push(
      rest.length === 0
        ? { mode: existing?.mode === "100755" ? "100755" : "100644", path: name, oid, type: "blob" }
        : { mode: "040000", path: name, oid, type: "tree" },
    );
    return git.writeTree({ fs, gitdir, tree: next });
  };
  const tree = await replace(commit.tree, opts.path.split("/"));
  const now = Math.floor(Date.now() / 1000);
  const person = { ...opts.author, timestamp: now, timezoneOffset: 0 };
  return git.writeCommit({
    fs,
    gitdir,
    commit: {
      message: opts.message.endsWith("\n") ? opts.message : `${opts.message}\n`,
      tree,
      parent: [opts.parent],
      author: person,
      committer: person,
    },
  });
}
