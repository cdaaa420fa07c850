import { lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from "node:fs";
import { posix, resolve, sep } from "node:path";
import { NotFoundError, RefusedError } from "./errors.js";

/**
 * A read-only tree of files: a repository revision (from git, in memory or a cache folder) or a
 * folder on disk. Paths are POSIX, relative to the tree's root, without a leading slash; "" is the
 * root. Symlinks are followed only while they stay inside the root.
 */
export interface FileTree {
  /** What the tree is, for messages: a folder path or `repo@revision`. */
  readonly label: string;
  /** "file", "dir", or undefined when nothing is there. */
  kind(path: string): "file" | "dir" | undefined;
  /** The names in a folder, sorted. */
  list(dir: string): string[];
  read(path: string): Uint8Array;
  readText(path: string): string;
}

/** Joins `rel` onto `base` inside a tree, refusing a result that leaves the root. */
export function joinInTree(base: string, rel: string, context: { file?: string; field?: string } = {}): string {
  if (rel.startsWith("/")) {
    throw new RefusedError(`absolute path '${rel}' is not allowed; paths are relative to the kustomization`, context);
  }
  const joined = posix.normalize(posix.join(base || ".", rel));
  if (joined === ".." || joined.startsWith("../")) {
    throw new RefusedError(`path '${rel}' leaves the repository root`, context);
  }
  return joined === "." ? "" : joined.replace(/\/$/, "");
}

/** A folder on disk. */
export class DiskTree implements FileTree {
  readonly label: string;
  private readonly root: string;

  constructor(root: string) {
    this.root = realpathSync(resolve(root));
    this.label = root;
  }

  private abs(path: string): string {
    const abs = path === "" ? this.root : resolve(this.root, path);
    let real: string;
    try {
      real = realpathSync(abs);
    } catch {
      return abs;
    }
    if (real !== this.root && !real.startsWith(this.root + sep)) {
      throw new RefusedError(`'${path}' is a symlink that leaves the repository root`, { file: path });
    }
    return real;
  }

  kind(path: string): "file" | "dir" | undefined {
    try {
      const st = statSync(this.abs(path));
      return st.isDirectory() ? "dir" : st.isFile() ? "file" : undefined;
    } catch (error) {
      if (error instanceof RefusedError) throw error;
      return undefined;
    }
  }

  list(dir: string): string[] {
    try {
      return readdirSync(this.abs(dir)).sort();
    } catch (error) {
      if (error instanceof RefusedError) throw error;
      throw new NotFoundError(`folder '${dir || "."}' does not exist in ${this.label}`, { file: dir });
    }
  }

  read(path: string): Uint8Array {
    try {
      return readFileSync(this.abs(path));
    } catch (error) {
      if (error instanceof RefusedError) throw error;
      throw new NotFoundError(`file '${path}' does not exist in ${this.label}`, { file: path });
    }
  }

  readText(path: string): string {
    return Buffer.from(this.read(path)).toString("utf8");
  }

  /** Whether `path` is itself a symlink (not followed). */
  isSymlink(path: string): boolean {
    try {
      return lstatSync(resolve(this.root, path)).isSymbolicLink();
    } catch {
      return false;
    }
  }

  readLink(path: string): string {
    return readlinkSync(resolve(this.root, path));
  }
}

/**
 * Files held in memory, as a git revision is materialized: `files` maps a path to its content;
 * `symlinks` maps a path to its link target (relative to the link's folder, as git stores it).
 */
export class MemoryTree implements FileTree {
  readonly label: string;
  private readonly files = new Map<string, Uint8Array>();
  private readonly dirs = new Map<string, Set<string>>();
  private readonly symlinks = new Map<string, string>();

  constructor(label: string, files: Iterable<[string, Uint8Array | string]>, symlinks: Iterable<[string, string]> = []) {
    this.label = label;
    this.dirs.set("", new Set());
    for (const [path, content] of files) {
      this.files.set(path, typeof content === "string" ? Buffer.from(content) : content);
      this.addParents(path);
    }
    for (const [path, target] of symlinks) {
      this.symlinks.set(path, target);
      this.addParents(path);
    }
  }

  private addParents(path: string): void {
    let child = path;
    let parent = posix.dirname(path);
    for (;;) {
      const key = parent === "." ? "" : parent;
      let entries = this.dirs.get(key);
      if (!entries) this.dirs.set(key, (entries = new Set()));
      entries.add(posix.basename(child));
      if (key === "") return;
      child = key;
      parent = posix.dirname(key);
    }
  }

  /** Resolves symlinks in every segment of `path`, refusing any that leave the root. */
  private resolvePath(path: string, depth = 0): string {
    if (this.symlinks.size === 0 || path === "") return path;
    if (depth > 40) throw new RefusedError(`too many levels of symlinks at '${path}'`, { file: path });
    const parts = path.split("/");
    let current = "";
    for (let i = 0; i < parts.length; i++) {
      current = current ? `${current}/${parts[i]}` : parts[i]!;
      const target = this.symlinks.get(current);
      if (target !== undefined) {
        const dir = posix.dirname(current);
        let resolved: string;
        try {
          resolved = joinInTree(dir === "." ? "" : dir, target);
        } catch {
          throw new RefusedError(`'${current}' is a symlink that leaves the repository root`, { file: current });
        }
        const rest = parts.slice(i + 1).join("/");
        return this.resolvePath(rest ? `${resolved}/${rest}` : resolved, depth + 1);
      }
    }
    return path;
  }

  kind(path: string): "file" | "dir" | undefined {
    const p = this.resolvePath(path);
    if (this.files.has(p)) return "file";
    if (this.dirs.has(p)) return "dir";
    return undefined;
  }

  list(dir: string): string[] {
    const entries = this.dirs.get(this.resolvePath(dir));
    if (!entries) throw new NotFoundError(`folder '${dir || "."}' does not exist in ${this.label}`, { file: dir });
    return [...entries].sort();
  }

  read(path: string): Uint8Array {
    const content = this.files.get(this.resolvePath(path));
    if (!content) throw new NotFoundError(`file '${path}' does not exist in ${this.label}`, { file: path });
    return content;
  }

  readText(path: string): string {
    return Buffer.from(this.read(path)).toString("utf8");
  }

  /** All file paths, sorted. */
  paths(): string[] {
    return [...this.files.keys()].sort();
  }
}
