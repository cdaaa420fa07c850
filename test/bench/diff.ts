import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { generateFleet } from "./generate-fleet.js";
import { measureProcess } from "./measure.js";
import { printJson, printTable } from "./report.js";

const CLI = join(import.meta.dirname, "..", "..", "src", "cli", "main.js");

/** `flotilla diff` between two commits of a generated 1,000-cluster repository where one shared feature changed. */
export async function run(): Promise<void> {
  const clusters = Number(process.env.DIFF_BENCH_CLUSTERS ?? 1000);
  const dir = mkdtempSync(join(tmpdir(), "flotilla-bench-diff-"));
  try {
    const git = (...args: string[]) => execFileSync("git", ["-C", dir, ...args], { encoding: "utf8" }).trim();
    const write = (variant: number) => {
      const tree = generateFleet(clusters, variant);
      for (const path of tree.paths()) {
        mkdirSync(dirname(join(dir, path)), { recursive: true });
        writeFileSync(join(dir, path), tree.read(path));
      }
    };
    git("init", "-q", "-b", "main");
    write(0);
    git("add", "-A");
    git("-c", "user.name=bench", "-c", "user.email=b@x", "commit", "-q", "-m", "base");
    git("tag", "v1.0.0");
    const base = git("rev-parse", "HEAD");
    write(1);
    git("-c", "user.name=bench", "-c", "user.email=b@x", "commit", "-q", "-am", "feat(monitoring): two replicas");
    const head = git("rev-parse", "HEAD");
    const m = await measureProcess(process.execPath, [CLI, "diff", "--repo", dir, "--base", base, "--head", head, "--format", "json"]);
    if (m.exitCode !== 1) throw new Error(`flotilla diff exited ${m.exitCode}: ${m.stderr}`);
    const diff = JSON.parse(m.stdout) as { summary: { clusters: number; units: number; changed: number } };
    printTable(`flotilla diff on a ${clusters}-cluster repository (one shared feature changed)`, [
      { clusters, "clusters changed": diff.summary.clusters, "units changed": diff.summary.units, seconds: Number(m.seconds.toFixed(2)), "peak MiB": m.peakMiB, goal: "< 10 s" },
    ]);
    printJson("diff", { clusters, clustersChanged: diff.summary.clusters, unitsChanged: diff.summary.units, seconds: Number(m.seconds.toFixed(2)), peakMiB: m.peakMiB });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
