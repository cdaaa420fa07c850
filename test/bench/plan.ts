import { discoverSources, planFleet } from "../../src/plan/index.js";
import { renderFlux } from "../../src/render/index.js";
import { generateFleet } from "./generate-fleet.js";
import { Checks } from "./checks.js";
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
  const [layout, layoutSeconds] = time(() =>
    planFleet(discoverSources(tree, { render }), { main: tree, release: tree }, { render, inferDependencies: false }),
  );
  const layoutRenders = renders;
  renders = 0;
  const [inferred, inferSeconds] = time(() =>
    planFleet(discoverSources(tree, { render }), { main: tree, release: tree }, { render }),
  );
  const units = layout.objects.filter((o) => o.kind === "Kustomization").length;
  const withDeps = inferred.objects.filter(
    (o) => o.kind === "Kustomization" && (o.spec as { dependsOn?: unknown[] }).dependsOn?.length,
  ).length;
  // Each workload cluster: 8 features, common, its own folder, tenants-common and tenants-<env>; plus mgmt.
  const expectedUnits = clusters * 12 + 1;
  const inferredUnits = inferred.objects.filter((o) => o.kind === "Kustomization").length;
  const checks = new Checks("plan");
  checks.check(
    units === expectedUnits && inferredUnits === expectedUnits,
    `${units} units (layout) and ${inferredUnits} (inference), expected ${expectedUnits}`,
  );
  // Every environment's common uses the hello-operator's custom resource, so every common unit depends on that feature.
  const commons = inferred.objects.filter((o) => o.kind === "Kustomization" && o.metadata.name === "common");
  const commonDeps = commons.filter((o) =>
    ((o.spec as { dependsOn?: Array<{ name: string }> }).dependsOn ?? []).some(
      (d) => d.name === "feature-hello-operator",
    ),
  ).length;
  checks.check(
    commons.length === clusters && commonDeps === clusters,
    `${commonDeps} of ${commons.length} common units depend on feature-hello-operator, expected ${clusters}`,
  );
  const rows = [
    {
      pass: "layout only",
      clusters,
      units,
      renders: layoutRenders,
      seconds: Number(layoutSeconds.toFixed(3)),
      goal: checks.goal(layoutSeconds < 1, `layout-only plan ${layoutSeconds.toFixed(3)} s (< 1)`),
    },
    {
      pass: "with dependency inference",
      clusters,
      units,
      renders,
      seconds: Number(inferSeconds.toFixed(3)),
      goal: checks.goal(inferSeconds < 5, `plan with inference ${inferSeconds.toFixed(3)} s (< 5)`),
    },
  ];
  printTable(`plan of a generated ${clusters}-cluster repository (${withDeps} units with inferred dependencies)`, rows);
  printJson("plan", {
    clusters,
    units,
    layoutSeconds: rows[0]!.seconds,
    inferSeconds: rows[1]!.seconds,
    inferRenders: renders,
    unitsWithInferredDeps: withDeps,
  });
  checks.done();
}
