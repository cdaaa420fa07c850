import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { defaultBranch, highestTag } from "./resolve-ref.js";

const run = promisify(execFile);

/**
 * A bare mirror of a local work repository, kept in step with it, that `flotilla up` serves over
 * smart HTTP: the controller then reads the repository exactly as it reads a real remote. The work
 * repository is never written to; when it has no release tag yet, the mirror alone gets one
 * (`v0.1.0` on the current main) so that prod has something to follow.
 */
export class LocalMirror {
  private refs = "";

  private constructor(
    readonly work: string,
    readonly bare: string,
    readonly syntheticTag: string | undefined,
  ) {}

  static async create(work: string, root: string, name = "platform.git"): Promise<LocalMirror> {
    const bare = join(root, name);
    mkdirSync(root, { recursive: true });
    if (!existsSync(bare)) execFileSync("git", ["init", "-q", "--bare", bare], { stdio: "ignore" });
    const mirror = new LocalMirror(work, bare, undefined);
    await mirror.sync();
    // The mirror's HEAD names the work repository's main branch, as a hosted remote's HEAD does.
    const branches = (await mirror.git("for-each-ref", "--format=%(refname:lstrip=2)", "refs/heads"))
      .split("\n")
      .filter(Boolean);
    const main = defaultBranch(branches);
    if (main) await mirror.git("symbolic-ref", "HEAD", `refs/heads/${main}`);
    const tags = (await mirror.git("tag", "--list")).split("\n").filter(Boolean);
    if (highestTag(tags, "*")) return mirror;
    const head = (await mirror.git("rev-parse", "HEAD")).trim();
    await mirror.git("tag", "v0.1.0", head);
    await mirror.sync();
    return new LocalMirror(work, bare, "v0.1.0");
  }

  /** Fetches new branches and tags from the work repository; true when a ref moved. */
  async sync(): Promise<boolean> {
    await run("git", ["-C", this.bare, "fetch", "-q", "--prune", "--force", this.work, "+refs/heads/*:refs/heads/*"]);
    await run("git", ["-C", this.bare, "fetch", "-q", "--force", this.work, "+refs/tags/*:refs/tags/*"]);
    const refs = await this.git("for-each-ref", "--format=%(refname) %(objectname)");
    const changed = refs !== this.refs;
    this.refs = refs;
    return changed;
  }

  /** Syncs every `intervalMs` and calls `onChange` after a ref moved; returns a stop function. */
  follow(intervalMs: number, onChange: () => void): () => void {
    let busy = false;
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      this.sync()
        .then((changed) => changed && onChange())
        .catch(() => undefined)
        .finally(() => (busy = false));
    }, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  private async git(...args: string[]): Promise<string> {
    return (await run("git", ["-C", this.bare, ...args])).stdout;
  }
}
