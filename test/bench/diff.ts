import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { generateFleet } from "./generate-fleet.js";
import { measureProcess } from "./measure.js";
import { Checks } from "./checks.js";
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
    const m = await measureProcess(process.execPath, [
      CLI,
      "diff",
      "--repo",
      dir,
      "--base",
      base,
      "--head",
      head,
      "--format",
      "json",
    ]);
    if (m.exitCode !== 1) throw new Error(`flotilla diff exited ${m.exitCode}: ${m.stderr}`);
    const diff = JSON.parse(m.stdout) as DiffJson;
    const checks = new Checks("diff");
    checkDiff(checks, diff, clusters);
    printTable(`flotilla diff on a ${clusters}-cluster repository (one shared feature changed)`, [
      {
        clusters,
        "clusters changed": diff.summary.clusters,
        "units changed": diff.summary.units,
        seconds: Number(m.seconds.toFixed(2)),
        "peak MiB": m.peakMiB,
        goal: checks.goal(m.seconds < 10, `diff took ${m.seconds.toFixed(2)} s (< 10)`),
      },
    ]);
    printJson("diff", {
      clusters,
      clustersChanged: diff.summary.clusters,
      unitsChanged: diff.summary.units,
      seconds: Number(m.seconds.toFixed(2)),
      peakMiB: m.peakMiB,
    });
    checks.done();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface DiffJson {
  summary: { clusters: number; units: number; added: number; changed: number; removed: number };
  clusters: Array<{
    cluster: string;
    units: Array<{
      unit: string;
      objects: Array<{ ref: string; change: string; fields?: Array<{ path: string; from?: unknown; to?: unknown }> }>;
    }>;
  }>;
}

/**
 * What the change must show: prod follows the release tag (the base), so exactly the non-prod
 * clusters change, each in its feature-monitoring unit only, by the Deployment's replicas 1 → 2.
 */
function checkDiff(checks: Checks, diff: DiffJson, clusters: number): void {
  const nonProd = Array.from({ length: clusters }, (_, i) => Math.floor(i / 2) % 3).filter((env) => env !== 2).length;
  checks.check(
    diff.summary.clusters === nonProd && diff.clusters.length === nonProd,
    `${diff.summary.clusters} clusters changed, expected the ${nonProd} non-prod ones`,
  );
  checks.check(
    diff.clusters.every((c) => !c.cluster.startsWith("prod-")),
    "no prod cluster changed",
  );
  checks.check(
    diff.summary.units === nonProd &&
      diff.summary.changed === nonProd &&
      diff.summary.added === 0 &&
      diff.summary.removed === 0,
    `summary ${JSON.stringify(diff.summary)}: one changed object per non-prod cluster`,
  );
  const wrong = diff.clusters.flatMap((c) =>
    c.units.flatMap((u) =>
      u.objects
        .filter(
          (o) =>
            !(
              u.unit.endsWith("/feature-monitoring") &&
              o.ref === "Deployment/monitoring/monitoring" &&
              o.change === "changed" &&
              JSON.stringify(o.fields) ===
                JSON.stringify([{ path: "spec.replicas", change: "changed", from: 1, to: 2 }])
            ),
        )
        .map((o) => `${c.cluster} ${u.unit} ${o.ref}`),
    ),
  );
  checks.check(
    wrong.length === 0,
    `every change is feature-monitoring's Deployment replicas 1 → 2; other: ${wrong.slice(0, 3).join(", ")}`,
  );
}
