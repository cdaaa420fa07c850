import { applyUnit } from "../../src/apply/apply.js";
import { ClusterClient } from "../../src/core/kube/index.js";
import type { InventoryEntry } from "../../src/core/flux.js";
import type { KubeObject } from "../../src/core/object.js";
import { startHarness } from "../../src/provision/local/harness.js";
import { Checks } from "./checks.js";
import { printJson, printTable } from "./report.js";

/** The shape of Flux's published benchmark: a Deployment scaled to zero, a ServiceAccount, a Service and an Ingress. */
function unitObjects(i: number): KubeObject[] {
  const name = `app-${i}`;
  const ns = `bench-${i % 10}`;
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace: ns } },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name, namespace: ns },
      spec: { selector: { app: name }, ports: [{ port: 80, targetPort: 8080, protocol: "TCP" }] },
    },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name, namespace: ns },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: {
            serviceAccountName: name,
            containers: [{ name: "app", image: "nginx:1.25", ports: [{ containerPort: 8080, protocol: "TCP" }] }],
          },
        },
      },
    },
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "Ingress",
      metadata: { name, namespace: ns },
      spec: {
        rules: [
          {
            host: `${name}.example.com`,
            http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name, port: { number: 80 } } } }] },
          },
        ],
      },
    },
  ];
}

/**
 * Applies 1,000 units of 4 objects to one real local apiserver, then re-reconciles them all
 * unchanged, counting requests and measuring the client process's memory. Every unit waits for
 * its objects to be healthy and keeps its inventory for the next pass. APPLY_BENCH_UNITS,
 * APPLY_BENCH_CONCURRENCY (units at once, 8) and APPLY_BENCH_SOCKETS (keep-alive sockets, 8)
 * change the shape.
 */
export async function run(): Promise<void> {
  const units = Number(process.env.APPLY_BENCH_UNITS ?? 1000);
  const concurrency = Number(process.env.APPLY_BENCH_CONCURRENCY ?? 8);
  const harness = await startHarness({ profile: "apiserver", clusters: ["bench"] });
  try {
    const client = ClusterClient.fromKubeconfig(harness.clusters[0]!.kubeconfig, {
      sockets: Number(process.env.APPLY_BENCH_SOCKETS ?? 8),
    });
    const namespaces = Array.from({ length: 10 }, (_, i): KubeObject => ({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: `bench-${i}` },
    }));
    await applyUnit(client, {
      unit: { name: "namespaces", namespace: "flux-system" },
      objects: namespaces,
      prune: false,
      wait: false,
      timeoutMs: 60_000,
    });
    const inventories: InventoryEntry[][] = [];
    let peakRss = 0;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
    const pass = async (label: string) => {
      const before = { ...client.counts };
      const retriesBefore = client.retries;
      const t = process.hrtime.bigint();
      let next = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < units) {
            const i = next++;
            const result = await applyUnit(client, {
              unit: { name: `unit-${i}`, namespace: "flux-system" },
              objects: unitObjects(i),
              previousInventory: inventories[i] ?? [],
              prune: true,
              wait: true,
              timeoutMs: 60_000,
              concurrency: 4,
            });
            inventories[i] = result.inventory;
          }
        }),
      );
      const seconds = Number(process.hrtime.bigint() - t) / 1e9;
      const delta = Object.fromEntries(
        Object.entries(client.counts).map(([k, v]) => [k, v - before[k as keyof typeof before]]),
      );
      const writes = delta.create! + delta.apply! + delta.patch! + delta.delete!;
      const requests = Object.values(delta).reduce((a, b) => a + b, 0);
      return {
        pass: label,
        units,
        objects: units * 4,
        seconds: Number(seconds.toFixed(2)),
        "units/s": Number((units / seconds).toFixed(0)),
        requests,
        writes,
        "dry runs": delta.dryRunApply!,
        retries: client.retries - retriesBefore,
        "peak MiB": Math.round(peakRss / 2 ** 20),
      };
    };
    const first = await pass("first apply");
    const second = await pass("unchanged");
    clearInterval(sampler);
    const checks = new Checks("apply");
    checks.check(
      inventories.length === units && inventories.every((inv) => inv.length === 4),
      `every unit's inventory holds its 4 objects (${inventories.filter((inv) => inv?.length === 4).length} of ${units} do)`,
    );
    checks.check(
      first.writes >= units * 4,
      `the first pass wrote every object (${first.writes} writes for ${units * 4} objects)`,
    );
    Object.assign(first, {
      goal: checks.goal(
        first.seconds <= 12 && first["peak MiB"] < 150,
        `first apply ${first.seconds} s (≤ 12), ${first["peak MiB"]} MiB (< 150)`,
      ),
    });
    Object.assign(second, {
      goal: checks.goal(
        second.seconds <= 3 && second.writes === 0 && second["peak MiB"] < 150,
        `unchanged pass ${second.seconds} s (≤ 3), ${second.writes} writes (0), ${second["peak MiB"]} MiB (< 150)`,
      ),
    });
    printTable(
      `apply: ${units} units × 4 objects to one local kube-apiserver (goals: first ≤ 12 s, unchanged ≤ 3 s with 0 writes, < 150 MiB)`,
      [first, second],
    );
    printJson("apply", { ...first, pass: "first" });
    printJson("apply", { ...second, pass: "unchanged" });
    client.close();
    checks.done();
  } finally {
    await harness.stop();
  }
}
