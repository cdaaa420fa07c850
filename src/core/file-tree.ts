import { lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from "node:fs";
import { posix, relative, resolve, sep } from "node:path";
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
  /** `path` with every symlink in it resolved: two paths with one real path are one folder or file. */
  realPath?(path: string): string;
}

/** `path` with its symlinks resolved, where the tree can say; else `path`. */
export function realPathIn(tree: FileTree, path: string): string {
  return tree.realPath ? tree.realPath(path) : path;
}

/**
 * One recursive walk's guard against folder symlinks: `enter` each folder before listing it. A
 * folder that leads back to one the walk is inside (`self -> .`) is a symlink loop, and one reached
 * a second time through another link would be read twice (and, with links to links, exponentially
 * often); both are refused, naming the path, instead of walking until the path is too long.
 */
export class FolderWalk {
  /** Real path of each folder entered → the path it was entered by. */
  private readonly entered = new Map<string, string>();

  constructor(private readonly tree: FileTree) {}

  /** Whether `path` is a folder this walk has not entered yet (entering it). */
  enterOnce(path: string): boolean {
    const real = realPathIn(this.tree, path);
    if (this.entered.has(real)) return false;
    this.entered.set(real, path);
    return true;
  }

  /** Enters `path`, throwing a RefusedError naming it when it is a loop or a folder already entered. */
  enter(path: string): void {
    const real = realPathIn(this.tree, path);
    const first = this.entered.get(real);
    if (first !== undefined) {
      const loop = first === "" || path.startsWith(`${first}/`);
      throw new RefusedError(
        loop
          ? `'${path}' is a symlink loop: it leads back to '${first || "."}'`
          : `'${path}' is the same folder as '${first}' (through a symlink), which was already read`,
        { file: path },
      );
    }
    this.entered.set(real, path);
  }
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

  realPath(path: string): string {
    const abs = this.abs(path);
    return abs === this.root ? "" : relative(this.root, abs).split(sep).join("/");
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
  /** Files listed but not held (over a size limit): reading one throws its error. */
  private readonly unread = new Map<string, () => Error>();

  /** `unread` maps a path to the error reading it throws: a file the source would not inflate. */
  constructor(
    label: string,
    files: Iterable<[string, Uint8Array | string]>,
    symlinks: Iterable<[string, string]> = [],
    unread: Iterable<[string, () => Error]> = [],
  ) {
    this.label = label;
    this.dirs.set("", new Set());
    for (const [path, content] of files) {
      this.files.set(path, typeof content === "string" ? Buffer.from(content) : content);
      this.addParents(path);
    }
    for (const [path, error] of unread) {
      this.unread.set(path, error);
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

  realPath(path: string): string {
    return this.resolvePath(path);
  }

  kind(path: string): "file" | "dir" | undefined {
    const p = this.resolvePath(path);
    if (this.files.has(p) || this.unread.has(p)) return "file";
    if (this.dirs.has(p)) return "dir";
    return undefined;
  }

  list(dir: string): string[] {
    const entries = this.dirs.get(this.resolvePath(dir));
    if (!entries) throw new NotFoundError(`folder '${dir || "."}' does not exist in ${this.label}`, { file: dir });
    return [...entries].sort();
  }

  read(path: string): Uint8Array {
    const real = this.resolvePath(path);
    const content = this.files.get(real);
    if (!content && this.unread.has(real)) throw this.unread.get(real)!();
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

  /** Everything the tree holds, to build the same tree elsewhere (a render worker): `new MemoryTree(label, ...snapshot)`. */
  snapshot(): [
    files: Array<[string, Uint8Array]>,
    symlinks: Array<[string, string]>,
    unread: Array<[string, () => Error]>,
  ] {
    return [[...this.files], [...this.symlinks], [...this.unread]];
  }
}

/**
 * A tree that remembers what was asked of it: every `kind`, `list`, `read` and `realPath` by path
 * (`kind:apps`, `read:apps/kustomization.yaml`). Wrapped around a render's tree, it gives the
 * render's read set: the only parts of the revision its output can depend on. Render stays pure;
 * the wrapper only looks on.
 */
export class RecordingTree implements FileTree {
  readonly label: string;
  readonly realPath?: (path: string) => string;
  private readonly seen = new Set<string>();

  constructor(private readonly tree: FileTree) {
    this.label = tree.label;
    if (tree.realPath) {
      const real = tree.realPath.bind(tree);
      this.realPath = (path) => {
        this.seen.add(`real:${path}`);
        return real(path);
      };
    }
  }

  kind(path: string): "file" | "dir" | undefined {
    this.seen.add(`kind:${path}`);
    return this.tree.kind(path);
  }

  list(dir: string): string[] {
    this.seen.add(`list:${dir}`);
    return this.tree.list(dir);
  }

  read(path: string): Uint8Array {
    this.seen.add(`read:${path}`);
    return this.tree.read(path);
  }

  readText(path: string): string {
    this.seen.add(`read:${path}`);
    return this.tree.readText(path);
  }

  /** What was asked so far, sorted: `<kind|list|read|real>:<path>`. */
  reads(): string[] {
    return [...this.seen].sort();
  }
}
