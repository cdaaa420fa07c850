/**
 * `npm run bench [-- NAME...]`: runs the benchmarks (all, or those named). Each module exports
 * `run()` and prints its own table and JSON lines through ./report.ts.
 */
const BENCHES: Record<string, () => Promise<{ run(): Promise<void> }>> = {
  render: () => import("./render.js"),
  plan: () => import("./plan.js"),
  patch: () => import("./patch.js"),
  diff: () => import("./diff.js"),
  apply: () => import("./apply.js"),
  provision: () => import("./provision.js"),
  propagation: () => import("./propagation.js"),
  source: () => import("./source.js"),
};

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const names = wanted.length > 0 ? wanted : Object.keys(BENCHES);
  for (const name of names) {
    const load = BENCHES[name];
    if (!load) throw new Error(`unknown benchmark '${name}'; known: ${Object.keys(BENCHES).join(", ")}`);
    process.stdout.write(`\n== ${name} ==\n`);
    await (await load()).run();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 2;
});
