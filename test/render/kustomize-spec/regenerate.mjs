// Reruns `kubectl kustomize` for every converted case and writes what it prints:
// `expected.yaml` when it builds, `kubectl-error.txt` (its error text) when it fails.
//   node test/render/kustomize-spec/regenerate.mjs [NAME-SUBSTRING...]
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { kubectlKustomize } from "./kubectl.mjs";

const CASES = join(import.meta.dirname, "cases");
const filters = process.argv.slice(2);
const names = readdirSync(CASES)
  .filter((n) => filters.length === 0 || filters.some((f) => n.includes(f)))
  .sort();

const version = execFileSync("kubectl", ["version", "--client"], { encoding: "utf8" });
if (!/Kustomize Version: v5\.5\.0/.test(version)) {
  console.error(`the fixtures are kustomize v5.5.0's behaviour; this kubectl says:\n${version}`);
  process.exit(2);
}

let built = 0;
let failed = 0;
const queue = [...names];
async function worker() {
  for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
    const dir = join(CASES, name);
    const { build, kubectlFlags } = JSON.parse(readFileSync(join(dir, "case.json"), "utf8"));
    const result = await kubectlKustomize(dir, build, kubectlFlags ?? []);
    for (const f of ["expected.yaml", "kubectl-error.txt"]) if (existsSync(join(dir, f))) rmSync(join(dir, f));
    if (result.ok) {
      writeFileSync(join(dir, "expected.yaml"), result.output);
      built++;
    } else {
      writeFileSync(join(dir, "kubectl-error.txt"), `${result.error}\n`);
      failed++;
    }
  }
}
await Promise.all([worker(), worker()]);
console.log(`${names.length} cases: kubectl builds ${built}, fails ${failed}`);
