import git from "isomorphic-git";
import type fs from "node:fs";
import { MemoryTree } from "../core/file-tree.js";
import { SourceIgnore } from "./ignore.js";

/**
 * The files of one commit as an in-memory tree, read from the object store without a checkout,
 * with Flux's exclusions, `.sourceignore` files and `spec.ignore` applied. Symlinks are kept as
 * links (the tree refuses those that leave the root).
 *
 * `blobs` (contents by object id) is shared between the materializations of one source: blobs found
 * there are not read again, so a commit that changes one file of 5,000 reads one blob. Afterwards it
 * holds exactly this commit's blobs (the same arrays the tree holds, so no extra copy).
 */
export async function materializeCommit(opts: { fs: typeof fs; gitdir: string; commit: string; label: string; ignore?: string; cache?: object; blobs?: Map<string, Uint8Array> }): Promise<MemoryTree> {
  const { fs: gfs, gitdir, commit } = opts;
  const cache = opts.cache ?? {};
  const known = opts.blobs;
  const used = new Map<string, Uint8Array>();
  const readBlob = async (oid: string): Promise<Uint8Array> => {
    let blob = used.get(oid) ?? known?.get(oid);
    if (!blob) blob = (await git.readBlob({ fs: gfs, gitdir, oid, cache })).blob;
    used.set(oid, blob);
    return blob;
  };
  const rules = new SourceIgnore(opts.ignore);
  const files: Array<[string, Uint8Array]> = [];
  const links: Array<[string, string]> = [];
  const walk = async (treeOid: string, prefix: string): Promise<void> => {
    const { tree } = await git.readTree({ fs: gfs, gitdir, oid: treeOid, cache });
    const ignoreEntry = tree.find((e) => e.path === ".sourceignore" && e.type === "blob");
    if (ignoreEntry) {
      const blob = await readBlob(ignoreEntry.oid);
      rules.addSourceIgnore(prefix.replace(/\/$/, ""), Buffer.from(blob).toString("utf8"));
    }
    // A folder's blobs are read a batch at a time: the object store's file reads overlap.
    const blobs = tree.filter((e) => e.type === "blob" && !rules.ignores(`${prefix}${e.path}`));
    for (let i = 0; i < blobs.length; i += 32) {
      const batch = blobs.slice(i, i + 32);
      const contents = await Promise.all(batch.map((e) => readBlob(e.oid)));
      batch.forEach((entry, j) => {
        const path = `${prefix}${entry.path}`;
        if (entry.mode === "120000") links.push([path, Buffer.from(contents[j]!).toString("utf8")]);
        else files.push([path, contents[j]!]);
      });
    }
    for (const entry of tree) {
      const path = `${prefix}${entry.path}`;
      if (entry.type === "tree" && !rules.ignores(`${path}/`)) await walk(entry.oid, `${path}/`);
    }
  };
  const { commit: c } = await git.readCommit({ fs: gfs, gitdir, oid: commit, cache });
  await walk(c.tree, "");
  if (known) {
    known.clear();
    for (const [oid, blob] of used) known.set(oid, blob);
  }
  return new MemoryTree(opts.label, files, links);
}
