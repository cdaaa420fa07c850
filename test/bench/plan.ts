import { discoverSources, planFleet } from "../../src/plan/index.js";
import { renderFlux } from "../../src/render/index.js";
import { generateFleet } from "./generate-fleet.js";
import { printJson, printTable } from "./report.js";

/** Plans a generated 1,000-cluster repository: the layout alone, then with dependency inference. */
export async function run(): Promise<void> {
  const clusters = Number(process.env.PLAN_BENCH_CLUSTERS ?? 1000);
  const tree = generateFleet(clusters);
  const time = <T>(fn: () => T): [T, number] => {
    const t = process.hrtime.bigint();
    const v = fn();
    return [v, Number(process.hrtime.bigint() - t) / 1e9];
  };
  let renders = 0;
  const render: typeof renderFlux = (t, p, s) => {
    renders++;
    return renderFlux(t, p, s);
  };
  const [layout, layoutSeconds] = time(() => planFleet(discoverSources(tree, { render }), { main: tree, release: tree }, { render, inferDependencies: false }));
  const layoutRenders = renders;
  renders = 0;
  const [inferred, inferSeconds] = time(() => planFleet(discoverSources(tree, { render }), { main: tree, release: tree }, { render }));
  const units = layout.objects.filter((o) => o.kind === "Kustomization").length;
  const withDeps = inferred.objects.filter((o) => o.kind === "Kustomization" && (o.spec as { dependsOn?: unknown[] }).dependsOn?.length).length;
  const rows = [
    { pass: "layout only", clusters, units, renders: layoutRenders, seconds: Number(layoutSeconds.toFixed(3)), goal: "< 1 s" },
    { pass: "with dependency inference", clusters, units, renders, seconds: Number(inferSeconds.toFixed(3)), goal: "-" },
  ];
  printTable(`plan of a generated ${clusters}-cluster repository (${withDeps} units with inferred dependencies)`, rows);
  printJson("plan", { clusters, units, layoutSeconds: rows[0]!.seconds, inferSeconds: rows[1]!.seconds, inferRenders: renders, unitsWithInferredDeps: withDeps });
}
