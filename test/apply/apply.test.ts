import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyUnit, ClusterClient, HealthCheckFailure, type ApplyRequest } from "../../src/apply/index.js";
import type { InventoryEntry } from "../../src/core/flux.js";
import type { KubeObject } from "../../src/core/object.js";
import { startHarness, type Harness } from "../../src/provision/local/harness.js";
import { kube } from "../support/kubectl-free-client.js";

const ns = (name: string): KubeObject => ({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
const cm = (name: string, data: Record<string, string>, extra: Partial<KubeObject["metadata"]> = {}): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: "team", ...extra },
  data,
});
const role: KubeObject = {
  apiVersion: "rbac.authorization.k8s.io/v1",
  kind: "ClusterRole",
  metadata: { name: "team-view" },
  rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get"] }],
};
const crd: KubeObject = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "widgets.example.com" },
  spec: {
    group: "example.com",
    names: { kind: "Widget", plural: "widgets" },
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
const widget: KubeObject = {
  apiVersion: "example.com/v1",
  kind: "Widget",
  metadata: { name: "w", namespace: "team" },
  spec: { size: 3 },
};
const service = (clusterIP?: string): KubeObject => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name: "svc", namespace: "team" },
  spec: { ports: [{ port: 80 }], selector: { app: "x" }, ...(clusterIP ? { clusterIP } : {}) },
});

describe("applyUnit on a real kube-apiserver", () => {
  let harness: Harness;
  let client: ClusterClient;
  let inventory: InventoryEntry[] = [];
  const req = (objects: KubeObject[], extra: Partial<ApplyRequest> = {}): ApplyRequest => ({
    unit: { name: "team", namespace: "flux-system" },
    objects,
    previousInventory: inventory,
    prune: true,
    wait: false,
    timeoutMs: 20_000,
    ...extra,
  });

  beforeAll(async () => {
    harness = await startHarness({ profile: "apiserver", clusters: ["apply"] });
    client = ClusterClient.fromKubeconfig(harness.clusters[0]!.kubeconfig);
  });
  afterAll(async () => {
    client?.close();
    await harness?.stop();
  });

  it("applies a CRD and its custom resource, namespaces and cluster-scoped kinds in one unit", async () => {
    const result = await applyUnit(client, req([widget, cm("a", { x: "1" }), ns("team"), role, crd]));
    inventory = result.inventory;
    expect(result.changeSet.map((c) => [c.ref, c.action]).sort()).toEqual([
      ["ClusterRole/team-view", "created"],
      ["ConfigMap/team/a", "created"],
      ["CustomResourceDefinition/widgets.example.com", "created"],
      ["Namespace/team", "created"],
      ["Widget/team/w", "created"],
    ]);
    expect(result.inventory.map((e) => e.id)).toContain("team_w_example.com_Widget");
    const live = await kube(harness.clusters[0]!).get("/api/v1/namespaces/team/configmaps/a");
    expect(live.body.metadata.labels).toEqual({
      "kustomize.toolkit.fluxcd.io/name": "team",
      "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
    });
    expect(live.body.metadata.managedFields.map((m: { manager: string }) => m.manager)).toContain("flotilla");
  });

  it("re-applies an unchanged unit with zero write requests", async () => {
    const before = client.writes();
    const dryRuns = client.counts.dryRunApply;
    const result = await applyUnit(client, req([widget, cm("a", { x: "1" }), ns("team"), role, crd]));
    expect(client.writes() - before).toBe(0);
    // Proven unchanged from the live objects' field ownership alone, without dry runs.
    expect(client.counts.dryRunApply - dryRuns).toBe(0);
    expect(new Set(result.changeSet.map((c) => c.action))).toEqual(new Set(["unchanged"]));
  });

  it("writes only the object whose field changed, and corrects drift", async () => {
    const before = client.writes();
    let result = await applyUnit(client, req([widget, cm("a", { x: "2" }), ns("team"), role, crd]));
    expect(client.writes() - before).toBe(1);
    expect(result.changeSet.find((c) => c.ref === "ConfigMap/team/a")!.action).toBe("configured");
    const k = kube(harness.clusters[0]!);
    await k.apply("/api/v1/namespaces/team/configmaps/a", {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "a", namespace: "team" },
      data: { x: "edited by hand" },
    });
    // Drift is read from the apiserver's watch cache, milliseconds behind etcd: a reconcile sees the edit once the cache does.
    await k.until(
      async () =>
        (await k.get("/api/v1/namespaces/team/configmaps/a?resourceVersion=0")).body.data.x === "edited by hand",
    );
    result = await applyUnit(client, req([widget, cm("a", { x: "2" }), ns("team"), role, crd]));
    expect(result.changeSet.find((c) => c.ref === "ConfigMap/team/a")!.action).toBe("configured");
    expect((await kube(harness.clusters[0]!).get("/api/v1/namespaces/team/configmaps/a")).body.data.x).toBe("2");
  });

  it("removes a field that left the manifest (the live object still holds it, so only field ownership shows the change)", async () => {
    await applyUnit(client, req([widget, cm("a", { x: "2", y: "3" }), ns("team"), role, crd]));
    const before = client.writes();
    const result = await applyUnit(client, req([widget, cm("a", { x: "2" }), ns("team"), role, crd]));
    expect(result.changeSet.find((c) => c.ref === "ConfigMap/team/a")!.action).toBe("configured");
    expect(client.writes() - before).toBe(1);
    expect((await kube(harness.clusters[0]!).get("/api/v1/namespaces/team/configmaps/a")).body.data).toEqual({
      x: "2",
    });
  });

  it("prunes what left the unit, but not an object that opts out", async () => {
    let result = await applyUnit(
      client,
      req([
        widget,
        cm("a", { x: "2" }),
        cm("b", {}),
        cm("keep", {}, { annotations: { "kustomize.toolkit.fluxcd.io/prune": "disabled" } }),
        ns("team"),
        role,
        crd,
      ]),
    );
    inventory = result.inventory;
    result = await applyUnit(client, req([widget, cm("a", { x: "2" }), ns("team"), role, crd]));
    expect(
      result.changeSet.filter((c) => c.action === "deleted" || c.action === "skipped").map((c) => [c.ref, c.action]),
    ).toEqual([
      ["ConfigMap/team/b", "deleted"],
      ["ConfigMap/team/keep", "skipped"],
    ]);
    inventory = result.inventory;
    const k = kube(harness.clusters[0]!);
    expect((await k.get("/api/v1/namespaces/team/configmaps/b")).status).toBe(404);
    expect((await k.get("/api/v1/namespaces/team/configmaps/keep")).status).toBe(200);
  });

  it("never prunes an object another unit owns", async () => {
    const other = await applyUnit(client, {
      ...req([cm("theirs", {})]),
      unit: { name: "other", namespace: "flux-system" },
      previousInventory: [],
    });
    const result = await applyUnit(
      client,
      req([widget, cm("a", { x: "2" }), ns("team"), role, crd], {
        previousInventory: [...inventory, ...other.inventory],
      }),
    );
    expect(result.changeSet.find((c) => c.ref === "ConfigMap/team/theirs")).toMatchObject({
      action: "skipped",
      note: "owned by another unit",
    });
  });

  it("leaves an object to the unit that takes it over between prune's read and its delete", async () => {
    const from = { name: "from", namespace: "flux-system" };
    const to = { name: "to", namespace: "flux-system" };
    const moving = cm("moving", { x: "1" });
    const before = await applyUnit(client, { ...req([moving]), unit: from, previousInventory: [] });
    // A second client whose first DELETE of the object lets the other unit's apply land first:
    // the interleaving of two units reconciled at once when an object moves between them.
    const racing = ClusterClient.fromKubeconfig(harness.clusters[0]!.kubeconfig);
    const request = racing.request.bind(racing);
    let raced = false;
    racing.request = (async (
      method: string,
      path: string,
      body?: unknown,
      opts?: Parameters<ClusterClient["request"]>[3],
    ) => {
      if (method === "DELETE" && path.endsWith("/configmaps/moving") && !raced) {
        raced = true;
        await applyUnit(client, { ...req([moving]), unit: to, previousInventory: [] });
      }
      return request(method, path, body, opts);
    }) as ClusterClient["request"];
    try {
      const result = await applyUnit(racing, { ...req([]), unit: from, previousInventory: before.inventory });
      expect(raced).toBe(true);
      expect(result.changeSet).toMatchObject([
        { ref: "ConfigMap/team/moving", action: "skipped", note: "owned by another unit" },
      ]);
      const live = await kube(harness.clusters[0]!).get("/api/v1/namespaces/team/configmaps/moving");
      expect(live.status).toBe(200);
      expect(live.body.metadata.labels["kustomize.toolkit.fluxcd.io/name"]).toBe("to");
    } finally {
      racing.close();
    }
  });

  it("names the field of an immutable change, and recreates the object with force", async () => {
    await applyUnit(client, req([ns("team"), service("10.0.0.77")], { prune: false }));
    await expect(applyUnit(client, req([ns("team"), service("10.0.0.78")], { prune: false }))).rejects.toThrow(
      /Service\/team\/svc.*spec\.clusterIPs?\[0\].*may not change once set.*spec\.force/,
    );
    const result = await applyUnit(client, req([ns("team"), service("10.0.0.78")], { prune: false, force: true }));
    expect(result.changeSet.find((c) => c.ref === "Service/team/svc")).toMatchObject({
      action: "configured",
      note: "recreated",
    });
    expect((await kube(harness.clusters[0]!).get("/api/v1/namespaces/team/services/svc")).body.spec.clusterIP).toBe(
      "10.0.0.78",
    );
  });

  it("fails a health check with a message that names the object and why", async () => {
    const deployment: KubeObject = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: "team" },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: "web" } },
        template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "nginx" }] } },
      },
    };
    const error = await applyUnit(
      client,
      req([ns("team"), deployment], { prune: false, wait: true, timeoutMs: 2000 }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HealthCheckFailure);
    expect((error as Error).message).toMatch(/timeout waiting for: Deployment\/team\/web \(0 of 1 replicas updated\)/);
  });

  it("reports a kind the cluster does not serve, keeping the inventory", async () => {
    const error = await applyUnit(
      client,
      req([{ apiVersion: "nope.example.com/v1", kind: "Gadget", metadata: { name: "g", namespace: "team" } }]),
    ).catch((e: unknown) => e);
    expect((error as Error).message).toContain("the cluster does not serve nope.example.com/v1 Gadget");
    expect((error as { inventory: InventoryEntry[] }).inventory.map((e) => e.id)).toEqual(inventory.map((e) => e.id));
  });

  it("writes nothing of a stage when one of its objects is rejected, as Flux's dry run of the whole stage, and names the first rejected object in stage order", async () => {
    const unit = { name: "all-or-nothing", namespace: "flux-system" };
    const stray = (name: string): KubeObject => ({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name, namespace: "nowhere" },
      data: {},
    });
    const objects = [
      ns("team"),
      cm("ok-1", {}),
      cm("ok-2", {}),
      ...Array.from({ length: 12 }, (_, i) => cm(`ok-${i + 3}`, {})),
      stray("b"),
      stray("a"),
      { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "first", namespace: "team" } },
    ];
    for (let round = 0; round < 3; round++) {
      const error = await applyUnit(client, { ...req(objects), unit, previousInventory: [], concurrency: 4 }).catch(
        (e: unknown) => e,
      );
      expect((error as Error).message).toBe('ConfigMap/nowhere/a: namespaces "nowhere" not found');
      // The Namespace stage went through; nothing of the stage with the rejected object did.
      expect((error as { inventory: InventoryEntry[] }).inventory.map((e) => e.id)).toEqual(["_team__Namespace"]);
    }
    for (const name of ["ok-1", "ok-2", "ok-14", "first"]) {
      const kind = name === "first" ? "serviceaccounts" : "configmaps";
      expect(
        (await client.request("GET", `/api/v1/namespaces/team/${kind}/${name}`, undefined, { allow: [404] })).status,
        name,
      ).toBe(404);
    }
  });

  it("applies quantities written as YAML numbers (ResourceQuota, LimitRange), which server-side apply on this apiserver refuses as numbers, and re-applies them without a write", async () => {
    const unit = { name: "quantities", namespace: "flux-system" };
    const quota: KubeObject = {
      apiVersion: "v1",
      kind: "ResourceQuota",
      metadata: { name: "objects", namespace: "team" },
      spec: { hard: { pods: 20, services: 20, "services.loadbalancers": 0, "requests.storage": "0Gi" } },
    };
    const limits: KubeObject = {
      apiVersion: "v1",
      kind: "LimitRange",
      metadata: { name: "default", namespace: "team" },
      spec: {
        limits: [
          { type: "Container", default: { cpu: 1, memory: "100Mi" }, defaultRequest: { cpu: 0.5, memory: "50Mi" } },
        ],
      },
    };
    const first = await applyUnit(client, { ...req([ns("team"), quota, limits]), unit, previousInventory: [] });
    expect(first.changeSet.filter((c) => c.action === "created").map((c) => c.ref)).toEqual([
      "LimitRange/team/default",
      "ResourceQuota/team/objects",
    ]);
    expect((await kube(harness.clusters[0]!).get("/api/v1/namespaces/team/resourcequotas/objects")).body.spec).toEqual({
      hard: { pods: "20", services: "20", "services.loadbalancers": "0", "requests.storage": "0" },
    });
    const again = await applyUnit(client, {
      ...req([ns("team"), quota, limits]),
      unit,
      previousInventory: first.inventory,
    });
    expect(again.changeSet.every((c) => c.action === "unchanged")).toBe(true);
  });

  it("hands recordIntent the inventory it is about to grow to before writing any new object, ids scoped as applied", async () => {
    const unit = { name: "intent", namespace: "flux-system" };
    const first = await applyUnit(client, { ...req([cm("kept", { x: "1" })]), unit, previousInventory: [] });
    const recorded: Array<{ ids: string[]; existed: number[] }> = [];
    const recordIntent = async (entries: InventoryEntry[]) => {
      const existed = await Promise.all(
        ["/api/v1/namespaces/team/configmaps/new", "/api/v1/namespaces/default/configmaps/unscoped"].map(
          async (p) => (await client.request("GET", p, undefined, { allow: [404] })).status,
        ),
      );
      recorded.push({ ids: entries.map((e) => e.id), existed });
    };
    const unscoped: KubeObject = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "unscoped" },
      data: { y: "2" },
    };
    const result = await applyUnit(client, {
      ...req([cm("kept", { x: "1" }), cm("new", { x: "1" }), unscoped]),
      unit,
      previousInventory: first.inventory,
      recordIntent,
    });
    expect(recorded).toEqual([
      { ids: ["default_unscoped__ConfigMap", "team_kept__ConfigMap", "team_new__ConfigMap"], existed: [404, 404] },
    ]);
    expect(result.inventory.map((e) => e.id)).toEqual(recorded[0]!.ids);
    // Nothing new: no call.
    await applyUnit(client, {
      ...req([cm("kept", { x: "1" }), cm("new", { x: "1" }), unscoped]),
      unit,
      previousInventory: result.inventory,
      recordIntent,
    });
    expect(recorded).toHaveLength(1);
  });
});
