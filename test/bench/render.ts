import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { deepEqual } from "../../src/core/object.js";
import { generateOverlay } from "./generate-overlay.js";
import { measureProcess } from "./measure.js";
import { printJson, printTable, type Row } from "./report.js";

const CLI = join(import.meta.dirname, "..", "..", "src", "cli", "main.js");
/** kubectl runs only where it finishes in reasonable time (2,000 objects take it ~17 s here). */
const KUBECTL_MAX = 2000;

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

/** `flotilla render` against `kubectl kustomize` on generated overlays of 20 to 20,000 objects. */
export async function run(): Promise<void> {
  const sizes = (process.env.RENDER_BENCH_SIZES ?? "20,1000,2000,5000,20000").split(",").map(Number);
  const kubectl = await hasKubectl();
  const rows: Row[] = [];
  for (const size of sizes) {
    const root = mkdtempSync(join(tmpdir(), `flotilla-bench-render-${size}-`));
    try {
      const dir = generateOverlay(root, size);
      const ours = await measureProcess(process.execPath, [CLI, "render", dir, "--root", root]);
      if (ours.exitCode !== 0) throw new Error(`flotilla render failed: ${ours.stderr}`);
      const objects = parse(ours.stdout);
      let theirs: Awaited<ReturnType<typeof measureProcess>> | undefined;
      let identical: boolean | null = null;
      if (kubectl && size <= KUBECTL_MAX) {
        theirs = await measureProcess("kubectl", ["kustomize", dir]);
        identical = theirs.exitCode === 0 && deepEqual(parse(theirs.stdout), objects);
      }
      const goal = size === 5000 ? "<= 1 s" : size === 20000 ? "<= 4 s" : size <= 20 ? "<= kubectl" : "-";
      const row: Row = {
        objects: objects.length,
        "flotilla s": Number(ours.seconds.toFixed(3)),
        "flotilla MiB": ours.peakMiB,
        "kubectl s": theirs ? Number(theirs.seconds.toFixed(3)) : null,
        "kubectl MiB": theirs ? theirs.peakMiB : null,
        "identical output": identical,
        goal,
      };
      rows.push(row);
      printJson("render", {
        objects: objects.length,
        flotillaSeconds: row["flotilla s"],
        flotillaPeakMiB: ours.peakMiB,
        kubectlSeconds: row["kubectl s"],
        kubectlPeakMiB: row["kubectl MiB"],
        identical,
      });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }
  printTable("flotilla render vs kubectl kustomize (whole process, this machine)", rows);
}
