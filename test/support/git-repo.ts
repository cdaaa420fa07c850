import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/** A work repository built with the `git` CLI, and a bare copy served to clients. */
export class TestRepo {
  readonly work: string;
  constructor(
    readonly root: string,
    readonly name = "repo.git",
  ) {
    this.work = join(root, "work");
    mkdirSync(this.work, { recursive: true });
    this.git("init", "-q", "-b", "main");
    this.git("config", "user.email", "dev@example.com");
    this.git("config", "user.name", "Dev");
    this.git("config", "commit.gpgsign", "false");
  }

  static create(): TestRepo {
    return new TestRepo(mkdtempSync(join(tmpdir(), "flotilla-git-")));
  }

  git(...args: string[]): string {
    return execFileSync("git", args, {
      cwd: this.work,
      encoding: "utf8",
      env: { ...process.env, GIT_AUTHOR_DATE: "2026-01-01T00:00:00Z", GIT_COMMITTER_DATE: "2026-01-01T00:00:00Z" },
    }).trim();
  }

  /** Writes files (path → content; null deletes) and commits them; returns the commit SHA. */
  commit(message: string, files: Record<string, string | null>): string {
    for (const [path, content] of Object.entries(files)) {
      const p = join(this.work, path);
      if (content === null) rmSync(p, { force: true });
      else {
        mkdirSync(dirname(p), { recursive: true });
        writeFileSync(p, content);
      }
    }
    this.git("add", "-A");
    this.git("commit", "-q", "--allow-empty", "-m", message);
    return this.git("rev-parse", "HEAD");
  }

  /** The bare repository the server serves, updated from the work repository. */
  get bare(): string {
    return join(this.root, this.name);
  }

  publish(...extra: string[]): void {
    execFileSync("git", ["clone", "-q", "--bare", this.work, this.bare], { stdio: "ignore" });
    execFileSync("git", ["-C", this.bare, "config", "http.receivepack", "true"]);
    void extra;
  }

  /** Pushes everything (branches and tags, forced) to the bare repository. */
  push(): void {
    this.git("push", "-q", "--force", "--prune", this.bare, "refs/heads/*:refs/heads/*", "refs/tags/*:refs/tags/*");
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
