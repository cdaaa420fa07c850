import type { KubeObject } from "../../src/core/object.js";
import { applyJson6902 } from "../../src/render/patch/json6902.js";
import { builtinSchema } from "../../src/render/patch/schema.js";
import { strategicMerge } from "../../src/render/patch/strategic-merge.js";
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
        containers: [{ name: "app", image: "registry.example.com/app:2.0.0", env: [{ name: "VAR_1", value: "patched" }, { name: "EXTRA", value: "1" }] }],
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
  const smpSeconds = time(() => {
    for (const obj of objects) strategicMerge(obj, SMP, builtinSchema);
  });
  const jsonSeconds = time(() => {
    for (const obj of objects) applyJson6902(obj, OPS, {});
  });
  const rows = [
    { patch: "strategic merge", objects: count, seconds: Number(smpSeconds.toFixed(3)), perObjectMicros: Number(((smpSeconds / count) * 1e6).toFixed(1)) },
    { patch: "JSON 6902 (3 ops)", objects: count, seconds: Number(jsonSeconds.toFixed(3)), perObjectMicros: Number(((jsonSeconds / count) * 1e6).toFixed(1)) },
  ];
  printTable(`patching ${count} Deployments (2 containers, 10 env variables each)`, rows);
  printJson("patch", { objects: count, strategicMergeSeconds: rows[0]!.seconds, json6902Seconds: rows[1]!.seconds });

  const scaling = [10, 100, 1000, 3000].map((envCount) => {
    const target = deployment(0, envCount);
    const rounds = envCount >= 1000 ? 5 : 50;
    const seconds = time(() => {
      for (let r = 0; r < rounds; r++) strategicMerge(target, SMP, builtinSchema);
    });
    return { envVariables: envCount, millisPerMerge: Number(((seconds / rounds) * 1e3).toFixed(3)) };
  });
  printTable("strategic merge of one Deployment by env list length", scaling);
  printJson("patch-env-scaling", { millisPerMerge: Object.fromEntries(scaling.map((s) => [s.envVariables, s.millisPerMerge])) });
}
