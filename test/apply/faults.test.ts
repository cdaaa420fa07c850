import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApplyFailure, applyUnit, ClusterClient, type ApplyRequest } from "../../src/apply/index.js";
import type { InventoryEntry } from "../../src/core/flux.js";
import type { KubeObject } from "../../src/core/object.js";
import { startHarness, type Harness } from "../../src/provision/local/harness.js";
import { kube } from "../support/kubectl-free-client.js";

const ns = (name: string): KubeObject => ({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
const cm = (name: string, data: Record<string, string> = {}, namespace = "faults"): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace },
  data,
});
const deployment = (name: string, image: string): KubeObject => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name, namespace: "faults" },
  spec: {
    replicas: 0,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "app", image }] } },
  },
});
const crd: KubeObject = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "sprockets.example.com" },
  spec: {
    group: "example.com",
    names: { kind: "Sprocket", plural: "sprockets" },
    scope: "Namespaced",
    versions: [
      {
        name: "v1",
        served: true,
        storage: true,
        schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
      },
    ],
  },
};
const sprocket: KubeObject = {
  apiVersion: "example.com/v1",
  kind: "Sprocket",
  metadata: { name: "s", namespace: "faults" },
  spec: { teeth: 12 },
};

describe("apply under bad input and faults, on a real kube-apiserver", () => {
  let harness: Harness;
  let client: ClusterClient;
  const unit = { name: "faults", namespace: "flux-system" };
  const req = (
    objects: KubeObject[],
    previousInventory: InventoryEntry[],
    extra: Partial<ApplyRequest> = {},
  ): ApplyRequest => ({
    unit,
    objects,
    previousInventory,
    prune: true,
    wait: false,
    timeoutMs: 20_000,
    ...extra,
  });
  const exists = async (path: string) => (await kube(harness.clusters[0]!).get(path)).status === 200;

  beforeAll(async () => {
    harness = await startHarness({ profile: "apiserver", clusters: ["faults"] });
    client = ClusterClient.fromKubeconfig(harness.clusters[0]!.kubeconfig);
  });
  afterAll(async () => {
    client?.close();
    await harness?.stop();
  });

  it("fails the unit on an object the apiserver rejects, naming it with the apiserver's message; nothing of its stage is written (Flux dry-runs the stage first); the inventory does not shrink, so nothing is pruned", async () => {
    const first = await applyUnit(client, req([ns("faults"), cm("a", { v: "1" }), cm("old")], []));
    const bad = deployment("web", "");
    const error = await applyUnit(
      client,
      req([ns("faults"), cm("a", { v: "2" }), cm("b"), bad], first.inventory),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApplyFailure);
    const failure = error as ApplyFailure;
    expect(failure.message).toMatch(
      /^Deployment\/faults\/web: Deployment.apps "web" is invalid: spec.template.spec.containers\[0\].image: Required value/,
    );
    expect(failure.object).toBe("Deployment/faults/web");
    // The ConfigMaps share the Deployment's stage: neither the change nor the new one is written.
    expect((await kube(harness.clusters[0]!).get("/api/v1/namespaces/faults/configmaps/a")).body.data).toEqual({
      v: "1",
    });
    expect(await exists("/api/v1/namespaces/faults/configmaps/b")).toBe(false);
    expect(failure.inventory.map((e) => e.id)).toEqual([
      "_faults__Namespace",
      "faults_a__ConfigMap",
      "faults_old__ConfigMap",
    ]);
    expect(await exists("/api/v1/namespaces/faults/configmaps/old")).toBe(true);
    // The next good run, from the failed run's inventory, prunes what left the unit.
    const fixed = await applyUnit(
      client,
      req([ns("faults"), cm("a", { v: "2" }), deployment("web", "nginx")], failure.inventory),
    );
    expect(fixed.changeSet.filter((c) => c.action === "deleted").map((c) => c.ref)).toEqual(["ConfigMap/faults/old"]);
    expect(await exists("/api/v1/namespaces/faults/configmaps/old")).toBe(false);
    expect((await kube(harness.clusters[0]!).get("/api/v1/namespaces/faults/configmaps/a")).body.data).toEqual({
      v: "2",
    });
  });

  it("reports a kind with no CRD yet as such, keeps the inventory, and applies it once another unit installs the CRD", async () => {
    const previous = (await applyUnit(client, req([ns("faults"), cm("a", { v: "2" })], []))).inventory;
    const error = (await applyUnit(client, req([ns("faults"), cm("a", { v: "2" }), sprocket], previous)).catch(
      (e: unknown) => e,
    )) as ApplyFailure;
    expect(error).toBeInstanceOf(ApplyFailure);
    expect(error.message).toBe(
      "Sprocket/faults/s: apiVersion: the cluster does not serve example.com/v1 Sprocket (is its CRD installed?)",
    );
    expect(error.inventory).toEqual(previous);
    // Discovery is cached per client; the unknown kind refreshes it, so the same client sees the new CRD.
    await applyUnit(client, { ...req([crd], []), unit: { name: "crds", namespace: "flux-system" } });
    const result = await applyUnit(client, req([ns("faults"), cm("a", { v: "2" }), sprocket], previous));
    expect(result.changeSet.find((c) => c.ref === "Sprocket/faults/s")!.action).toBe("created");
  });

  it("retries through an apiserver restart in the middle of an apply, with backoff, and finishes the unit", async () => {
    const objects = [
      crd,
      ns("restart"),
      ...Array.from({ length: 300 }, (_, i) => cm(`c${i}`, { i: String(i) }, "restart")),
      { ...sprocket, metadata: { name: "s", namespace: "restart" } },
    ];
    const retriesBefore = client.retries;
    const requests = () => Object.values(client.counts).reduce((a, b) => a + b, 0);
    const requestsBefore = requests();
    let settled = false;
    const applying = applyUnit(client, { ...req(objects, []), unit: { name: "restart", namespace: "flux-system" } })
      .catch((e: unknown) => e as Error)
      .finally(() => (settled = true));
    // The restart comes once the apply is under way (20 requests made), not after a guessed sleep.
    while (requests() - requestsBefore < 20 && !settled) await new Promise((r) => setTimeout(r, 5));
    expect(settled, "the apply finished before the restart began").toBe(false);
    const requestsAtRestart = requests() - requestsBefore;
    await harness.clusters[0]!.restart();
    const result = await applying;
    if (result instanceof Error) throw result;
    // The apply had started before the restart and made requests once it began (some of them retried
    // through it): the restart was in its middle. The apply may finish while restart() still waits for readiness.
    expect(requestsAtRestart).toBeGreaterThanOrEqual(20);
    expect(requests() - requestsBefore).toBeGreaterThan(requestsAtRestart);
    expect(
      result.changeSet.filter((c) => c.action === "created" || c.action === "unchanged" || c.action === "configured"),
    ).toHaveLength(303);
    expect(client.retries - retriesBefore).toBeGreaterThan(0);
    const list = await kube(harness.clusters[0]!).get(
      "/api/v1/namespaces/restart/configmaps?labelSelector=kustomize.toolkit.fluxcd.io/name%3Drestart",
    );
    expect(list.body.items).toHaveLength(300);
  }, 60_000);

  it("gives up on a cluster that does not answer, naming it, without holding up another cluster", async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => sockets.push(s)).listen(0, "127.0.0.1");
    await new Promise((r) => silent.once("listening", r));
    const port = (silent.address() as net.AddressInfo).port;
    const dead = new ClusterClient({ server: `https://127.0.0.1:${port}`, insecure: true }, { timeoutMs: 1500 });
    try {
      const t0 = Date.now();
      const stuck = applyUnit(dead, req([cm("x")], [])).then(
        () => undefined,
        (e: unknown) => ({ error: e as Error, after: Date.now() - t0 }),
      );
      const healthy = await applyUnit(client, {
        ...req([ns("other"), cm("y", {}, "other")], []),
        unit: { name: "other", namespace: "flux-system" },
      });
      const healthyAfter = Date.now() - t0;
      expect(healthy.changeSet.map((c) => c.action)).toEqual(["created", "created"]);
      const outcome = (await stuck)!;
      expect(outcome.error.message).toMatch(new RegExp(`https://127.0.0.1:${port}: GET /api/v1 timed out`));
      expect(healthyAfter).toBeLessThan(outcome.after);
      expect(outcome.after).toBeLessThan(5000);
    } finally {
      dead.close();
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });
});
