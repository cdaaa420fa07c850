import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { deepEqual } from "../../src/core/object.js";
import { Checks } from "./checks.js";
import { generateOverlay } from "./generate-overlay.js";
import { measureProcess, type ProcessMeasure } from "./measure.js";
import { printJson, printTable, type Row } from "./report.js";

const CLI = join(import.meta.dirname, "..", "..", "src", "cli", "main.js");
/** kubectl runs only where it finishes in reasonable time (2,000 objects take it 17 s or more here). */
const KUBECTL_MAX = 2000;
/** Flotilla runs this many times per size and the median time is reported (the machine is shared). */
const RUNS = 3;
/**
 * Checksums of kubectl kustomize's output for the sizes kubectl is too slow to run every time
 * (5,000 objects take it about 100 s here), recorded once with RENDER_BENCH_RECORD=1.
 */
const CHECKSUMS = join(import.meta.dirname, "..", "..", "..", "test", "bench", "render-kubectl-checksums.json");
/** The 20,000-object render may take at most this many times the 5,000-object one (4x the objects, linear with slack). */
const LINEAR_FACTOR = 6;

interface RecordedOutput {
  objects: number;
  sha256: string;
  kubectlSeconds: number;
}

/** Objects as canonical JSON (keys sorted, order of objects kept): equal for equal parsed output. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

function checksum(objects: unknown[]): string {
  return createHash("sha256").update(canonical(objects)).digest("hex");
}

function readChecksums(): Record<string, RecordedOutput> {
  return existsSync(CHECKSUMS)
    ? ((JSON.parse(readFileSync(CHECKSUMS, "utf8")) as { outputs: Record<string, RecordedOutput> }).outputs ?? {})
    : {};
}

/** RENDER_BENCH_RECORD=1: runs kubectl once at the sizes it is too slow for and records its output's checksum. */
async function recordChecksums(sizes: number[]): Promise<void> {
  const version = (await measureProcess("kubectl", ["version", "--client"])).stdout;
  const outputs = readChecksums();
  for (const size of sizes) {
    const root = mkdtempSync(join(tmpdir(), `flotilla-bench-render-record-${size}-`));
    try {
      const theirs = await measureProcess("kubectl", ["kustomize", generateOverlay(root, size)]);
      if (theirs.exitCode !== 0) throw new Error(`kubectl kustomize failed at ${size} objects: ${theirs.stderr}`);
      const objects = parse(theirs.stdout);
      outputs[String(size)] = {
        objects: objects.length,
        sha256: checksum(objects),
        kubectlSeconds: Number(theirs.seconds.toFixed(1)),
      };
      process.stdout.write(`recorded ${size}: ${objects.length} objects in ${theirs.seconds.toFixed(1)} s\n`);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }
  writeFileSync(CHECKSUMS, `${JSON.stringify({ kubectl: version.trim().split("\n"), outputs }, null, 2)}\n`);
}

function parse(text: string): unknown[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as unknown)
    .filter((x) => x !== null);
}

async function hasKubectl(): Promise<boolean> {
  try {
    return (await measureProcess("kubectl", ["version", "--client"])).exitCode === 0;
  } catch {
    return false;
  }
}

/** The issue's goal for one size, and whether the measurement meets it (null: not measurable). */
function goalFor(
  objects: number,
  ours: { seconds: number; peakMiB: number },
  theirs: ProcessMeasure | undefined,
): { goal: string; met: boolean | null } {
  const lessMemory = theirs ? ours.peakMiB < theirs.peakMiB : null;
  if (objects <= 20) {
    return {
      goal: "<= kubectl time, < its memory",
      met: theirs ? ours.seconds <= theirs.seconds && lessMemory === true : null,
    };
  }
  if (objects === 5000) return { goal: "<= 1 s", met: ours.seconds <= 1 };
  if (objects === 20000) return { goal: "<= 4 s", met: ours.seconds <= 4 };
  return { goal: "< kubectl memory", met: lessMemory };
}

/** Runs a command `times` times: the median time, the highest peak memory, the first run's output. */
async function measureRuns(times: number, command: string, args: string[]): Promise<ProcessMeasure> {
  const runs: ProcessMeasure[] = [];
  for (let i = 0; i < times; i++) runs.push(await measureProcess(command, args));
  const seconds = runs.map((r) => r.seconds).sort((a, b) => a - b)[Math.floor(times / 2)]!;
  return { ...runs[0]!, seconds, peakMiB: Math.max(...runs.map((r) => r.peakMiB)) };
}

/**
 * `flotilla render` (whole process) against `kubectl kustomize` on generated overlays of 20 to
 * 20,000 objects; outputs are compared as parsed objects wherever kubectl runs.
 * RENDER_BENCH_SIZES=20,1000 picks other sizes.
 */
export async function run(): Promise<void> {
  const sizes = (process.env.RENDER_BENCH_SIZES ?? "20,1000,2000,5000,20000").split(",").map(Number);
  if (process.env.RENDER_BENCH_RECORD) return recordChecksums(sizes.filter((s) => s > KUBECTL_MAX));
  const kubectl = await hasKubectl();
  const recorded = readChecksums();
  const checks = new Checks("render");
  const seconds = new Map<number, number>();
  const rows: Row[] = [];
  for (const size of sizes) {
    const root = mkdtempSync(join(tmpdir(), `flotilla-bench-render-${size}-`));
    try {
      const dir = generateOverlay(root, size);
      const ours = await measureRuns(RUNS, process.execPath, [CLI, "render", dir, "--root", root]);
      if (ours.exitCode !== 0) throw new Error(`flotilla render failed: ${ours.stderr}`);
      const objects = parse(ours.stdout);
      let theirs: ProcessMeasure | undefined;
      let identical: boolean | null = null;
      if (kubectl && size <= KUBECTL_MAX) {
        // kubectl is slow on big overlays: one run there, the median of several on small ones.
        theirs = await measureRuns(size <= 20 ? RUNS : 1, "kubectl", ["kustomize", dir]);
        identical = theirs.exitCode === 0 && deepEqual(parse(theirs.stdout), objects);
      } else if (recorded[String(size)]) {
        // Where kubectl takes minutes, its output was recorded once as a checksum.
        identical = checksum(objects) === recorded[String(size)]!.sha256;
      }
      checks.check(identical !== false, `output at ${size} objects differs from kubectl kustomize's`);
      if (size > KUBECTL_MAX)
        checks.check(
          identical !== null,
          `no recorded kubectl checksum for ${size} objects (RENDER_BENCH_RECORD=1 records it)`,
        );
      seconds.set(size, ours.seconds);
      const { goal, met } = goalFor(size, ours, theirs);
      if (size >= 5000) checks.goal(met !== false, `${size} objects: ${ours.seconds.toFixed(3)} s (${goal})`);
      const row: Row = {
        objects: objects.length,
        "flotilla s (median)": Number(ours.seconds.toFixed(3)),
        "flotilla MiB": ours.peakMiB,
        "kubectl s": theirs ? Number(theirs.seconds.toFixed(3)) : null,
        "kubectl MiB": theirs ? theirs.peakMiB : null,
        "identical output": identical,
        goal,
        met,
      };
      rows.push(row);
      printJson("render", {
        objects: objects.length,
        flotillaSeconds: Number(ours.seconds.toFixed(3)),
        flotillaPeakMiB: ours.peakMiB,
        kubectlSeconds: row["kubectl s"],
        kubectlPeakMiB: row["kubectl MiB"],
        identical,
        goal,
        goalMet: met,
      });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }
  printTable("flotilla render vs kubectl kustomize (whole process, peak RSS, this machine)", rows);
  const small = seconds.get(5000);
  const large = seconds.get(20000);
  if (small !== undefined && large !== undefined) {
    const factor = large / small;
    printJson("render", {
      linearity: {
        from: 5000,
        to: 20000,
        timeFactor: Number(factor.toFixed(2)),
        goal: `<= ${LINEAR_FACTOR}`,
        goalMet: factor <= LINEAR_FACTOR,
      },
    });
    checks.goal(
      factor <= LINEAR_FACTOR,
      `20,000 objects take ${factor.toFixed(2)}x the time of 5,000 (<= ${LINEAR_FACTOR}x: linear)`,
    );
  }
  // A wrong output, or a missed goal at 5,000/20,000 objects, fails `npm run bench` (exit non-zero).
  checks.done();
}
