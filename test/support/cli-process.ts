import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT as ROOT } from "./project-root.js";

const MAIN = join(ROOT, "dist", "src", "cli", "main.js");

/** A `flotilla` command running as a child process, so that a test can SIGKILL it. */
export interface CliProcess {
  readonly pid: number;
  /** Resolves when the process has exited: its exit code, or the signal that ended it. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Everything written to stdout so far. */
  stdout(): string;
  /** Everything written to stderr so far (where the controller's pino JSON log goes). */
  stderr(): string;
  /** The JSON log lines written so far. */
  logLines(): ReadonlyArray<Record<string, unknown>>;
  /** The last `lines` lines of stdout and stderr, for a failed assertion's message. */
  tail(lines?: number): string;
  /** The first JSON log line (stdout or stderr, already written or to come) that `match` accepts; rejects on exit or timeout. */
  waitForLog(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Sends `signal` (default SIGKILL) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const running = new Set<ChildProcess>();
let exitHooked = false;

function killAllSync(): void {
  for (const child of running) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
}

/** Kills every CLI child this process started that is still running (afterAll). */
export async function killAllCliProcesses(): Promise<void> {
  const children = [...running];
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once("exit", () => resolve());
          c.kill("SIGKILL");
        }),
    ),
  );
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path));
    else if (entry.isFile()) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

let built: string | undefined;

/**
 * `dist/src/cli/main.js`, built with `tsc -p tsconfig.json` first when it is missing or older than
 * the newest file under `src/` (once per process). tsc emits JavaScript even when some file (maybe
 * another developer's work in progress) has type errors: those are printed as a warning, and only a
 * build that leaves no fresh main.js is an error.
 */
export function ensureBuiltCli(): string {
  if (built) return built;
  const stale = () => !existsSync(MAIN) || statSync(MAIN).mtimeMs < newestMtime(join(ROOT, "src"));
  if (stale()) {
    const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
    const result = spawnSync(process.execPath, [tsc, "-p", join(ROOT, "tsconfig.json")], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 300_000,
    });
    const output = `${result.stdout ?? ""}${result.stderr ?? ""}`.trim();
    if (result.error || stale()) {
      throw new Error(
        `building the CLI (npx tsc -p tsconfig.json) did not produce a fresh ${MAIN}: ${result.error?.message ?? `exit ${result.status}`}\n${output.split("\n").slice(-30).join("\n")}`,
      );
    }
    if (result.status !== 0)
      process.stderr.write(
        `warning: tsc reported errors but emitted ${MAIN}:\n${output.split("\n").slice(0, 20).join("\n")}\n`,
      );
  }
  built = MAIN;
  return built;
}

/**
 * Starts `node dist/src/cli/main.js <args>` (building it first when needed). The child cannot
 * outlive this process: it is SIGKILLed on exit, by `killAllCliProcesses`, and by the kernel when
 * this process dies (parent-death signal through `setpriv`, where the machine has it).
 */
export function startCli(args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}): CliProcess {
  const main = ensureBuiltCli();
  if (!exitHooked) {
    exitHooked = true;
    process.once("exit", killAllSync);
  }
  const env = { ...process.env, ...opts.env };
  const setpriv = existsSync("/usr/bin/setpriv") ? "/usr/bin/setpriv" : undefined;
  // setpriv execs node in place, so the child's pid is node's.
  const child = setpriv
    ? spawn(setpriv, ["--pdeathsig", "KILL", "--", process.execPath, main, ...args], {
        cwd: opts.cwd ?? ROOT,
        env,
        stdio: ["ignore", "pipe", "pipe"],
      })
    : spawn(process.execPath, [main, ...args], { cwd: opts.cwd ?? ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  if (child.pid === undefined) throw new Error(`could not start ${main}`);
  running.add(child);
  let out = "";
  let err = "";
  // pino writes JSON lines (to stderr by default); every parsed line is kept for waitForLog.
  const logLines: Array<Record<string, unknown>> = [];
  const lineWaiters = new Set<(line: Record<string, unknown>) => void>();
  const reader = () => {
    let partial = "";
    return (chunk: string) => {
      partial += chunk;
      const lines = partial.split("\n");
      partial = lines.pop()!;
      for (const line of lines) {
        if (!line.startsWith("{")) continue;
        let parsed: Record<string, unknown>;
        try {
          parsed = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue;
        }
        logLines.push(parsed);
        for (const w of lineWaiters) w(parsed);
      }
    };
  };
  const fromStdout = reader();
  const fromStderr = reader();
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    out += chunk;
    fromStdout(chunk);
  });
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    err += chunk;
    fromStderr(chunk);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });
  const tail = (lines = 30) => {
    const last = (text: string) => text.trimEnd().split("\n").slice(-lines).join("\n");
    return `--- flotilla ${args[0] ?? ""} (pid ${child.pid}) stdout, last ${lines} lines ---\n${last(out)}\n--- stderr ---\n${last(err)}`;
  };
  return {
    pid: child.pid,
    exited,
    stdout: () => out,
    stderr: () => err,
    logLines: () => logLines,
    tail,
    waitForLog(match, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const done = (fn: () => void) => {
          clearTimeout(timer);
          lineWaiters.delete(waiter);
          fn();
        };
        const waiter = (line: Record<string, unknown>) => {
          if (match(line)) done(() => resolve(line));
        };
        const seen = logLines.find(match);
        if (seen) return resolve(seen);
        const timer = setTimeout(
          () => done(() => reject(new Error(`no matching log line within ${timeoutMs} ms\n${tail()}`))),
          timeoutMs,
        );
        lineWaiters.add(waiter);
        void exited.then(({ code, signal }) =>
          done(() => reject(new Error(`exited (${signal ?? code}) before a matching log line\n${tail()}`))),
        );
      });
    },
    async kill(signal: NodeJS.Signals = "SIGKILL") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
