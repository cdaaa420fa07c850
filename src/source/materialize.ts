import git from "isomorphic-git";
import type fs from "node:fs";
import { TooLargeError } from "../core/errors.js";
import { MemoryTree } from "../core/file-tree.js";
import { SourceIgnore } from "./ignore.js";
import { DEFAULT_SOURCE_LIMITS, formatBytes, type SourceLimits } from "./limits.js";
import { ObjectSizes } from "./object-size.js";

/**
 * The files of one commit as an in-memory tree, read from the object store without a checkout,
 * with Flux's exclusions, `.sourceignore` files and `spec.ignore` applied. Symlinks are kept as
 * links (the tree refuses those that leave the root).
 *
 * `blobs` (contents by object id) is shared between the materializations of one source: blobs found
 * there are not read again, so a commit that changes one file of 5,000 reads one blob. Afterwards it
 * holds exactly this commit's blobs (the same arrays the tree holds, so no extra copy).
 *
 * Sizes are bounded (`limits`): a blob over `maxFileBytes`, measured from its header, is never
 * inflated; the tree lists it and reading it fails with an error naming the source and the file, so
 * only the units that render it fail. Files over `maxArtifactBytes` together fail the artifact.
 */
export async function materializeCommit(opts: {
  fs: typeof fs;
  gitdir: string;
  commit: string;
  label: string;
  ignore?: string;
  cache?: object;
  blobs?: Map<string, Uint8Array>;
  limits?: SourceLimits;
}): Promise<MemoryTree> {
  const { fs: gfs, gitdir, commit } = opts;
  const cache = opts.cache ?? {};
  const known = opts.blobs;
  const limits = opts.limits ?? DEFAULT_SOURCE_LIMITS;
  const sizes = new ObjectSizes(gitdir);
  const used = new Map<string, Uint8Array>();
  const tooLarge: Array<[string, () => Error]> = [];
  let total = 0;
  const fileTooLarge = (path: string, size: number) => () =>
    new TooLargeError(
      `file '${path}' of ${opts.label} is ${formatBytes(size)}, larger than ${formatBytes(limits.maxFileBytes)} (--max-file-size)`,
      { file: path, object: opts.label },
    );
  /** The blob's content, or undefined (noted in `tooLarge`) when it is over the file limit. */
  const readBlob = async (oid: string, path: string): Promise<Uint8Array | undefined> => {
    let blob = used.get(oid) ?? known?.get(oid);
    if (!blob) {
      const size = sizes.sizeOf(oid);
      if (size !== undefined && size > limits.maxFileBytes) {
        tooLarge.push([path, fileTooLarge(path, size)]);
        return undefined;
      }
      blob = (await git.readBlob({ fs: gfs, gitdir, oid, cache })).blob;
    }
    if (blob.byteLength > limits.maxFileBytes) {
      tooLarge.push([path, fileTooLarge(path, blob.byteLength)]);
      return undefined;
    }
    total += blob.byteLength;
    if (total > limits.maxArtifactBytes) {
      throw new TooLargeError(
        `${opts.label}: the artifact's files are larger than ${formatBytes(limits.maxArtifactBytes)} together (--max-artifact-size); '${path}' passed the limit`,
        { object: opts.label, file: path },
      );
    }
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
      const blob = await readBlob(ignoreEntry.oid, `${prefix}.sourceignore`);
      if (blob) rules.addSourceIgnore(prefix.replace(/\/$/, ""), Buffer.from(blob).toString("utf8"));
    }
    // A folder's blobs are read a batch at a time: the object store's file reads overlap.
    const blobs = tree.filter((e) => e.type === "blob" && !rules.ignores(`${prefix}${e.path}`));
    for (let i = 0; i < blobs.length; i += 32) {
      const batch = blobs.slice(i, i + 32);
      const contents = await Promise.all(batch.map((e) => readBlob(e.oid, `${prefix}${e.path}`)));
      batch.forEach((entry, j) => {
        const path = `${prefix}${entry.path}`;
        const content = contents[j];
        if (!content) return;
        if (entry.mode === "120000") links.push([path, Buffer.from(content).toString("utf8")]);
        else files.push([path, content]);
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
  return new MemoryTree(opts.label, files, links, tooLarge);
}
