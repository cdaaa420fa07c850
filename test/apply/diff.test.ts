import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyUnit, ClusterClient, diffUnit, type DiffRequest } from "../../src/apply/index.js";
import { isMasked } from "../../src/core/field-diff.js";
import type { InventoryEntry } from "../../src/core/flux.js";
import type { KubeObject } from "../../src/core/object.js";
import { startHarness, type Harness } from "../../src/provision/local/harness.js";
import { kube } from "../support/kubectl-free-client.js";

const ns = (name: string): KubeObject => ({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
const cm = (name: string, data: Record<string, string>, extra: Partial<KubeObject["metadata"]> = {}): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: "shop", ...extra },
  data,
});
const secret = (token: string): KubeObject => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name: "api", namespace: "shop" },
  data: { token: Buffer.from(token).toString("base64") },
});
const deployment = (image: string, replicas = 0): KubeObject => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "web", namespace: "shop" },
  spec: {
    replicas,
    selector: { matchLabels: { app: "web" } },
    template: {
      metadata: { labels: { app: "web" } },
      spec: { containers: [{ name: "web", image, ports: [{ containerPort: 80 }] }] },
    },
  },
});
const crd: KubeObject = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "gizmos.example.com" },
  spec: {
    group: "example.com",
    names: { kind: "Gizmo", plural: "gizmos" },
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

describe("diffUnit: a server-side dry run compared with the live objects", () => {
  let harness: Harness;
  let client: ClusterClient;
  let inventory: InventoryEntry[] = [];
  const base = () => [
    ns("shop"),
    cm("settings", { color: "blue", size: "m" }),
    cm("old", {}),
    cm("keep", {}, { annotations: { "kustomize.toolkit.fluxcd.io/prune": "disabled" } }),
    secret("s3cr3t-one"),
    deployment("nginx:1.25"),
  ];
  const req = (objects: KubeObject[]): DiffRequest => ({
    unit: { name: "shop", namespace: "flux-system" },
    objects,
    previousInventory: inventory,
  });
  const liveVersions = async () => {
    const k = kube(harness.clusters[0]!);
    const cms = await k.get("/api/v1/namespaces/shop/configmaps");
    const secrets = await k.get("/api/v1/namespaces/shop/secrets");
    const deploys = await k.get("/apis/apps/v1/namespaces/shop/deployments");
    return [...cms.body.items, ...secrets.body.items, ...deploys.body.items]
      .map((o: KubeObject) => `${o.kind ?? ""}${o.metadata.name}@${o.metadata.resourceVersion}`)
      .sort();
  };

  beforeAll(async () => {
    harness = await startHarness({ profile: "apiserver", clusters: ["diff"] });
    client = ClusterClient.fromKubeconfig(harness.clusters[0]!.kubeconfig);
    const applied = await applyUnit(client, {
      unit: { name: "shop", namespace: "flux-system" },
      objects: base(),
      prune: true,
      wait: false,
      timeoutMs: 20_000,
    });
    inventory = applied.inventory;
  });
  afterAll(async () => {
    client?.close();
    await harness?.stop();
  });

  it("finds no change in an unchanged unit (server defaults and managedFields are no difference)", async () => {
    const result = await diffUnit(client, req(base()));
    expect(result.changes).toEqual([]);
    expect(result.unchanged).toEqual([
      "ConfigMap/shop/keep",
      "ConfigMap/shop/old",
      "ConfigMap/shop/settings",
      "Deployment/shop/web",
      "Namespace/shop",
      "Secret/shop/api",
    ]);
  });

  it("lists changed fields, a removed field, new objects, Secret changes masked and prune candidates — and writes nothing", async () => {
    const writes = client.writes();
    const before = await liveVersions();
    const objects = [
      ns("shop"),
      cm("settings", { color: "green" }),
      cm("new", { a: "1" }),
      cm("keep", {}, { annotations: { "kustomize.toolkit.fluxcd.io/prune": "disabled" } }),
      secret("s3cr3t-two"),
      deployment("nginx:1.27"),
    ];
    // `old` left the unit; an inventory entry whose object is already gone is no change.
    const result = await diffUnit(client, {
      ...req(objects),
      previousInventory: [...inventory, { id: "shop_gone__ConfigMap", v: "v1" }],
    });
    expect(result.changes.map((c) => [c.ref, c.change])).toEqual([
      ["ConfigMap/shop/new", "added"],
      ["ConfigMap/shop/old", "removed"],
      ["ConfigMap/shop/settings", "changed"],
      ["Deployment/shop/web", "changed"],
      ["Secret/shop/api", "changed"],
    ]);
    const fieldsOf = (ref: string) => result.changes.find((c) => c.ref === ref)!.fields;
    expect(fieldsOf("ConfigMap/shop/settings")).toEqual([
      { path: "data.color", change: "changed", from: "blue", to: "green" },
      { path: "data.size", change: "removed", from: "m" },
    ]);
    expect(fieldsOf("Deployment/shop/web")).toEqual([
      {
        path: "spec.template.spec.containers[name=web].image",
        change: "changed",
        from: "nginx:1.25",
        to: "nginx:1.27",
      },
    ]);
    const secretFields = fieldsOf("Secret/shop/api")!;
    expect(secretFields.map((f) => [f.path, f.change, isMasked(f.from), isMasked(f.to)])).toEqual([
      ["data.token", "changed", true, true],
    ]);
    const text = JSON.stringify(result);
    for (const plain of [
      "s3cr3t-one",
      "s3cr3t-two",
      Buffer.from("s3cr3t-one").toString("base64"),
      Buffer.from("s3cr3t-two").toString("base64"),
    ])
      expect(text).not.toContain(plain);
    expect(result.skipped).toEqual([]);
    expect(client.writes() - writes).toBe(0);
    expect(await liveVersions()).toEqual(before);
    expect((await kube(harness.clusters[0]!).get("/api/v1/namespaces/shop/configmaps/new")).status).toBe(404);
  });

  it("lists an opted-out or foreign prune candidate as skipped, not removed", async () => {
    await applyUnit(client, {
      unit: { name: "other", namespace: "flux-system" },
      objects: [cm("theirs", {})],
      prune: false,
      wait: false,
      timeoutMs: 20_000,
    });
    const objects = base().filter((o) => o.metadata.name !== "keep");
    const result = await diffUnit(client, {
      ...req(objects),
      previousInventory: [...inventory, { id: "shop_theirs__ConfigMap", v: "v1" }],
    });
    expect(result.changes).toEqual([]);
    expect(result.skipped).toEqual([
      { ref: "ConfigMap/shop/keep", note: "prune disabled" },
      { ref: "ConfigMap/shop/theirs", note: "owned by another unit" },
    ]);
    expect(await diffUnit(client, { ...req(objects), prune: false })).toMatchObject({ changes: [], skipped: [] });
  });

  it("lists a new namespace with its objects, and a custom resource whose CRD comes with the unit, as added", async () => {
    const gizmo: KubeObject = {
      apiVersion: "example.com/v1",
      kind: "Gizmo",
      metadata: { name: "g", namespace: "lab" },
      spec: { size: 1 },
    };
    const result = await diffUnit(client, {
      unit: { name: "lab", namespace: "flux-system" },
      objects: [ns("lab"), { ...cm("c", {}), metadata: { name: "c", namespace: "lab" } }, crd, gizmo],
    });
    expect(result.changes.map((c) => [c.ref, c.change])).toEqual([
      ["ConfigMap/lab/c", "added"],
      ["CustomResourceDefinition/gizmos.example.com", "added"],
      ["Gizmo/lab/g", "added"],
      ["Namespace/lab", "added"],
    ]);
  });

  it("fails on an object the apiserver rejects, naming it and quoting the apiserver", async () => {
    const bad = { ...cm("bad", {}), data: { "not a key!": "x" } };
    await expect(diffUnit(client, req([...base(), bad]))).rejects.toThrow(/ConfigMap "bad" is invalid/);
    const error = await diffUnit(client, req([...base(), bad])).catch((e: unknown) => e);
    expect((error as { location: { object: string } }).location.object).toBe("ConfigMap/shop/bad");
    await expect(
      diffUnit(
        client,
        req([{ apiVersion: "nope.example.com/v1", kind: "Gadget", metadata: { name: "g", namespace: "shop" } }]),
      ),
    ).rejects.toThrow(/does not serve nope.example.com\/v1 Gadget/);
  });
});
