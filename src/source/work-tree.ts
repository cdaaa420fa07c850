import { NotFoundError } from "../core/errors.js";
import { DiskTree, type FileTree } from "../core/file-tree.js";
import { SourceIgnore } from "./ignore.js";

/**
 * A repository's work tree as Flux would see it once committed: Flux's default exclusions, and the
 * `.sourceignore` and `.gitignore` files of each folder applied below it. `flotilla plan` without
 * `--ref` reads this, so test fixtures a `.sourceignore` leaves out and decrypted or generated files
 * git ignores are not rendered, as they never reach the controller.
 */
export class WorkTree implements FileTree {
  readonly label: string;
  private readonly disk: DiskTree;
  /** Flux's defaults and the `.sourceignore` and `.gitignore` rules of the folders read so far. */
  private readonly rules = new SourceIgnore();
  private readonly loaded = new Set<string>();

  constructor(dir: string) {
    this.disk = new DiskTree(dir);
    this.label = this.disk.label;
  }

  private load(dir: string): void {
    if (this.loaded.has(dir)) return;
    this.loaded.add(dir);
    const texts = [".gitignore", ".sourceignore"]
      .map((f) => (dir ? `${dir}/${f}` : f))
      .filter((p) => this.disk.kind(p) === "file")
      .map((p) => this.disk.readText(p));
    if (texts.length > 0) this.rules.addSourceIgnore(dir, texts.join("\n"));
  }

  /** Whether `path` (a folder when `dir`) or any folder above it is excluded. */
  private excluded(path: string, dir: boolean): boolean {
    if (path === "") return false;
    const parts = path.split("/");
    for (let i = 1; i <= parts.length; i++) {
      // By now the rules of every folder above parts[i - 1] are loaded.
      this.load(parts.slice(0, i - 1).join("/"));
      const isDir = i < parts.length || dir;
      if (this.rules.ignores(parts.slice(0, i).join("/") + (isDir ? "/" : ""))) return true;
    }
    return false;
  }

  kind(path: string): "file" | "dir" | undefined {
    const kind = this.disk.kind(path);
    return kind && !this.excluded(path, kind === "dir") ? kind : undefined;
  }

  list(dir: string): string[] {
    if (this.kind(dir) !== "dir")
      throw new NotFoundError(`folder '${dir || "."}' does not exist in ${this.label}`, { file: dir });
    return this.disk.list(dir).filter((name) => this.kind(dir ? `${dir}/${name}` : name) !== undefined);
  }

  read(path: string): Uint8Array {
    if (this.kind(path) !== "file")
      throw new NotFoundError(`file '${path}' does not exist in ${this.label}`, { file: path });
    return this.disk.read(path);
  }

  readText(path: string): string {
    return Buffer.from(this.read(path)).toString("utf8");
  }

  realPath(path: string): string {
    return this.disk.realPath(path);
  }
}
