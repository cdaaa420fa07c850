import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { deepEqual } from "../../src/core/object.js";
import { generateOverlay } from "./generate-overlay.js";
import { measureProcess, type ProcessMeasure } from "./measure.js";
import { printJson, printTable, type Row } from "./report.js";

const CLI = join(import.meta.dirname, "..", "..", "src", "cli", "main.js");
/** kubectl runs only where it finishes in reasonable time (2,000 objects take it 17 s or more here). */
const KUBECTL_MAX = 2000;
/** Flotilla runs this many times per size and the median time is reported (the machine is shared). */
const RUNS = 3;

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

/** The goal for one size, and whether the measurement meets it (null: not measurable). */
function goalFor(objects: number, ours: { seconds: number; peakMiB: number }, theirs: ProcessMeasure | undefined): { goal: string; met: boolean | null } {
  const lessMemory = theirs ? ours.peakMiB < theirs.peakMiB : null;
  if (objects <= 20) {
    return { goal: "<= kubectl time, < its memory", met: theirs ? ours.seconds <= theirs.seconds && lessMemory === true : null };
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
  const kubectl = await hasKubectl();
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
      }
      const { goal, met } = goalFor(size, ours, theirs);
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
}
