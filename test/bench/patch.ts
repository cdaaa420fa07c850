import type { KubeObject } from "../../src/core/object.js";
import { applyJson6902 } from "../../src/render/patch/json6902.js";
import { builtinSchema } from "../../src/render/patch/schema.js";
import { strategicMerge } from "../../src/render/patch/strategic-merge.js";
import { Checks } from "./checks.js";
import { printJson, printTable } from "./report.js";

function deployment(i: number, envCount: number): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: `app-${i}`, namespace: "apps", labels: { app: `app-${i}` } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: `app-${i}` } },
      template: {
        metadata: { labels: { app: `app-${i}` } },
        spec: {
          containers: [
            {
              name: "app",
              image: `registry.example.com/app-${i}:1.0.0`,
              ports: [{ containerPort: 8080, name: "http" }],
              env: Array.from({ length: envCount }, (_, e) => ({ name: `VAR_${e}`, value: String(e) })),
              volumeMounts: [{ name: "config", mountPath: "/etc/app" }],
              resources: { requests: { cpu: "100m", memory: "128Mi" } },
            },
            { name: "proxy", image: "registry.example.com/proxy:2.0.0" },
          ],
          volumes: [{ name: "config", configMap: { name: `app-${i}` } }],
        },
      },
    },
  };
}

const SMP = {
  spec: {
    replicas: 3,
    template: {
      spec: {
        containers: [
          {
            name: "app",
            image: "registry.example.com/app:2.0.0",
            env: [
              { name: "VAR_1", value: "patched" },
              { name: "EXTRA", value: "1" },
            ],
          },
        ],
        volumes: [{ name: "cache", emptyDir: {} }],
      },
    },
  },
};
const OPS = [
  { op: "replace", path: "/spec/replicas", value: 3 },
  { op: "add", path: "/spec/template/spec/containers/0/env/-", value: { name: "EXTRA", value: "1" } },
  { op: "add", path: "/metadata/annotations", value: { patched: "true" } },
];

function time(fn: () => void): number {
  const started = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/** Strategic merge and JSON 6902 over 20,000 generated Deployments, and strategic merge on ever longer env lists. */
export async function run(): Promise<void> {
  const count = Number(process.env.PATCH_BENCH_OBJECTS ?? 20000);
  const objects = Array.from({ length: count }, (_, i) => deployment(i, 10));
  const checks = new Checks("patch");
  const merged: Array<KubeObject | null> = [];
  const patched: KubeObject[] = [];
  const smpSeconds = time(() => {
    for (const obj of objects) merged.push(strategicMerge(obj, SMP, builtinSchema));
  });
  const jsonSeconds = time(() => {
    for (const obj of objects) patched.push(applyJson6902(obj, OPS, {}));
  });
  checks.check(
    merged.every(isMerged),
    `strategic merge: ${merged.filter(isMerged).length} of ${count} Deployments patched as expected`,
  );
  checks.check(
    patched.every(isJsonPatched),
    `JSON 6902: ${patched.filter(isJsonPatched).length} of ${count} Deployments patched as expected`,
  );
  const rows = [
    {
      patch: "strategic merge",
      objects: count,
      seconds: Number(smpSeconds.toFixed(3)),
      perObjectMicros: Number(((smpSeconds / count) * 1e6).toFixed(1)),
    },
    {
      patch: "JSON 6902 (3 ops)",
      objects: count,
      seconds: Number(jsonSeconds.toFixed(3)),
      perObjectMicros: Number(((jsonSeconds / count) * 1e6).toFixed(1)),
    },
  ];
  printTable(`patching ${count} Deployments (2 containers, 10 env variables each)`, rows);
  printJson("patch", { objects: count, strategicMergeSeconds: rows[0]!.seconds, json6902Seconds: rows[1]!.seconds });

  // Warmed up, and the fastest of 5 repeats: one cold or interrupted run is not the cost of a size.
  for (let r = 0; r < 20; r++) strategicMerge(deployment(0, 1000), SMP, builtinSchema);
  const scaling = [10, 100, 1000, 3000].map((envCount) => {
    const target = deployment(0, envCount);
    const rounds = envCount >= 1000 ? 5 : 50;
    const repeats = Array.from({ length: 5 }, () =>
      time(() => {
        for (let r = 0; r < rounds; r++) strategicMerge(target, SMP, builtinSchema);
      }),
    );
    return { envVariables: envCount, millisPerMerge: Number(((Math.min(...repeats) / rounds) * 1e3).toFixed(3)) };
  });
  // Linear in the list's length: tripling it (1,000 → 3,000) costs about 3 times as much; quadratic would be 9.
  const ratio = scaling[3]!.millisPerMerge / scaling[2]!.millisPerMerge;
  printTable(
    "strategic merge of one Deployment by env list length",
    scaling.map((s) => ({
      ...s,
      goal:
        s.envVariables === 3000
          ? checks.goal(
              ratio > 1.5 && ratio < 6,
              `3,000 env variables cost ${ratio.toFixed(1)}× 1,000 (1.5–6, linear is 3)`,
            )
          : "-",
    })),
  );
  printJson("patch-env-scaling", {
    millisPerMerge: Object.fromEntries(scaling.map((s) => [s.envVariables, s.millisPerMerge])),
    ratio3000to1000: Number(ratio.toFixed(2)),
  });
  checks.done();
}

type Container = { name: string; image: string; env?: Array<{ name: string; value: string }> };
const containersOf = (obj: KubeObject) =>
  (obj.spec as { template: { spec: { containers: Container[] } } }).template.spec.containers;

function isMerged(obj: KubeObject | null): boolean {
  if (!obj) return false;
  const spec = obj.spec as { replicas: number; template: { spec: { volumes: Array<{ name: string }> } } };
  const [app, proxy] = containersOf(obj);
  const env = app?.env ?? [];
  return (
    spec.replicas === 3 &&
    app?.image === "registry.example.com/app:2.0.0" &&
    proxy?.name === "proxy" &&
    env.length === 11 &&
    env.find((e) => e.name === "VAR_1")?.value === "patched" &&
    env.some((e) => e.name === "EXTRA") &&
    spec.template.spec.volumes
      .map((v) => v.name)
      .sort()
      .join(",") === "cache,config"
  );
}

function isJsonPatched(obj: KubeObject): boolean {
  const env = containersOf(obj)[0]?.env ?? [];
  return (
    (obj.spec as { replicas: number }).replicas === 3 &&
    env.length === 11 &&
    env[10]?.name === "EXTRA" &&
    obj.metadata.annotations?.patched === "true"
  );
}
