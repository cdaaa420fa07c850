import ignore, { type Ignore } from "ignore";
import { NotFoundError } from "../core/errors.js";
import { DiskTree, type FileTree } from "../core/file-tree.js";
import { DEFAULT_EXCLUSIONS } from "./ignore.js";

/**
 * A repository's work tree as Flux would see it once committed: Flux's default exclusions, and the
 * `.sourceignore` and `.gitignore` files of each folder applied below it. `flotilla plan` without
 * `--ref` reads this, so test fixtures a `.sourceignore` leaves out and decrypted or generated files
 * git ignores are not rendered, as they never reach the controller.
 */
export class WorkTree implements FileTree {
  readonly label: string;
  private readonly disk: DiskTree;
  private readonly defaults = ignore().add(DEFAULT_EXCLUSIONS);
  /** The rules of each folder's `.sourceignore` and `.gitignore` (undefined: it has none). */
  private readonly rules = new Map<string, Ignore | undefined>();

  constructor(dir: string) {
    this.disk = new DiskTree(dir);
    this.label = this.disk.label;
  }

  private rulesOf(dir: string): Ignore | undefined {
    if (!this.rules.has(dir)) {
      const texts = [".gitignore", ".sourceignore"].map((f) => (dir ? `${dir}/${f}` : f)).filter((p) => this.disk.kind(p) === "file").map((p) => this.disk.readText(p));
      this.rules.set(dir, texts.length > 0 ? ignore().add(texts.join("\n")) : undefined);
    }
    return this.rules.get(dir);
  }

  /** Whether `path` (a folder when `dir`) or any folder above it is excluded. */
  private excluded(path: string, dir: boolean): boolean {
    if (path === "") return false;
    const parts = path.split("/");
    for (let i = 1; i <= parts.length; i++) {
      const isDir = i < parts.length || dir;
      const sub = parts.slice(0, i).join("/") + (isDir ? "/" : "");
      if (this.defaults.ignores(sub)) return true;
      // The rules of every folder above apply to the path relative to that folder.
      for (let j = 0; j < i; j++) {
        const rules = this.rulesOf(parts.slice(0, j).join("/"));
        if (rules?.ignores(parts.slice(j, i).join("/") + (isDir ? "/" : ""))) return true;
      }
    }
    return false;
  }

  kind(path: string): "file" | "dir" | undefined {
    const kind = this.disk.kind(path);
    return kind && !this.excluded(path, kind === "dir") ? kind : undefined;
  }

  list(dir: string): string[] {
    if (this.kind(dir) !== "dir") throw new NotFoundError(`folder '${dir || "."}' does not exist in ${this.label}`, { file: dir });
    return this.disk.list(dir).filter((name) => this.kind(dir ? `${dir}/${name}` : name) !== undefined);
  }

  read(path: string): Uint8Array {
    if (this.kind(path) !== "file") throw new NotFoundError(`file '${path}' does not exist in ${this.label}`, { file: path });
    return this.disk.read(path);
  }

  readText(path: string): string {
    return Buffer.from(this.read(path)).toString("utf8");
  }
}
