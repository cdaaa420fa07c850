import { BenchFailed } from "./checks.js";

/**
 * `npm run bench [-- NAME...]`: runs the benchmarks (all, or those named). Each module exports
 * `run()` and prints its own table and JSON lines through ./report.ts; it throws when its output is
 * wrong or a goal is missed (./checks.ts), and the run then exits 1 after the others.
 */
const BENCHES: Record<string, () => Promise<{ run(): Promise<void> }>> = {
  render: () => import("./render.js"),
  plan: () => import("./plan.js"),
  patch: () => import("./patch.js"),
  diff: () => import("./diff.js"),
  apply: () => import("./apply.js"),
  provision: () => import("./provision.js"),
  propagation: () => import("./propagation.js"),
  fleet: () => import("./fleet.js"),
  source: () => import("./source.js"),
  rollout: () => import("./rollout.js"),
  webhook: () => import("./webhook.js"),
};

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const names = wanted.length > 0 ? wanted : Object.keys(BENCHES);
  const unknown = names.filter((name) => !BENCHES[name]);
  if (unknown.length > 0)
    throw new Error(`unknown benchmark '${unknown.join("', '")}'; known: ${Object.keys(BENCHES).join(", ")}`);
  const failed: string[] = [];
  for (const name of names) {
    process.stdout.write(`\n== ${name} ==\n`);
    try {
      await (await BENCHES[name]!()).run();
    } catch (error) {
      // A wrong output or a missed goal (see checks.ts) fails the run after the other benchmarks.
      if (!(error instanceof BenchFailed)) console.error(error);
      failed.push(name);
    }
  }
  if (failed.length > 0) {
    process.stderr.write(`\nbench failed: ${failed.join(", ")}\n`);
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 2;
});
