import { createHash, createHmac, randomBytes } from "node:crypto";
import type { FileTree } from "../core/file-tree.js";
import type { KubeObject } from "../core/object.js";
import { canonicalJson } from "./render-cache.js";

/**
 * Reconcile only what changed: a unit's inputs are its spec, its identity and target kubeconfig,
 * its substitutions (with the `substituteFrom` data) and what its render read of the revision (its
 * read set, replayed on a new revision here without rendering). Digests are HMAC-SHA256 under a
 * key made per controller process: a plain digest of a low-entropy Secret value mixed with known
 * inputs could be guessed offline by whoever reads status; a restarted controller does a full
 * check anyway, so it never needs an older process's digests.
 */
const PROCESS_KEY = randomBytes(32);

/** Everything a unit's apply depends on besides the revision's files. */
export interface InputParts {
  spec: unknown;
  identity: string | undefined;
  /** The target cluster's kubeconfig (undefined: the management cluster). */
  kubeconfig: string | undefined;
  /** The variables substituted, `substituteFrom` data included. */
  substitute: Record<string, string> | undefined;
  /** `readSetDigest` of the render's read set on the revision. */
  readSet: string;
}

/** The combined input digest (status.inputs.digest). */
export function inputDigest(parts: InputParts): string {
  return keyed(canonicalJson(parts));
}

/** A digest of a render's output (status.inputs.outputDigest). */
export function outputDigest(objects: readonly KubeObject[]): string {
  return keyed(canonicalJson(objects));
}

function keyed(text: string): string {
  return createHmac("sha256", PROCESS_KEY).update(text).digest("hex");
}

/** Content digests per tree and path, so a thousand units replaying one read set on a revision hash each file once. */
const contentDigests = new WeakMap<FileTree, Map<string, string>>();

/**
 * A digest of what the reads of a read set (`kind:`, `list:`, `read:`, `real:` and a path, as
 * RecordingTree records them) find in `tree`: the same on two revisions exactly when the render
 * would read the same there. A read that fails counts by its error's code (never its message,
 * which names the revision).
 */
export function readSetDigest(tree: FileTree, reads: readonly string[]): string {
  const hash = createHash("sha256");
  for (const entry of reads) hash.update(entry).update("\u0000").update(observe(tree, entry)).update("\u0000");
  return hash.digest("hex");
}

function observe(tree: FileTree, entry: string): string {
  const colon = entry.indexOf(":");
  const op = entry.slice(0, colon);
  const path = entry.slice(colon + 1);
  try {
    if (op === "kind") return tree.kind(path) ?? "none";
    if (op === "list") return tree.list(path).join("/");
    if (op === "real") return tree.realPath ? tree.realPath(path) : path;
    if (op === "read") return contentDigest(tree, path);
    return `unknown ${op}`;
  } catch (error) {
    return `error ${(error as { code?: unknown }).code ?? (error instanceof Error ? error.name : "thrown")}`;
  }
}

function contentDigest(tree: FileTree, path: string): string {
  let digests = contentDigests.get(tree);
  if (!digests) contentDigests.set(tree, (digests = new Map()));
  let d = digests.get(path);
  if (d === undefined) {
    d = createHash("sha256").update(tree.read(path)).digest("hex");
    digests.set(path, d);
  }
  return d;
}

/** What the controller remembers of a unit's last full reconcile (in memory only: a restart forgets it, so the first reconcile after one is full). */
export interface FullReconcile {
  /** The read set of the render it applied. */
  reads: string[];
  /** When drift correction is due: the full reconcile's time plus its (jittered) interval. */
  dueAt: number;
}

/** Per unit (`namespace/name`), its last full reconcile. */
export class FullReconciles {
  private readonly units = new Map<string, FullReconcile>();

  get(key: string): FullReconcile | undefined {
    return this.units.get(key);
  }

  set(key: string, full: FullReconcile): void {
    this.units.set(key, full);
  }

  forget(key: string): void {
    this.units.delete(key);
  }
}
