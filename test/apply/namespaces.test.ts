import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApplyFailure, applyUnit, ClusterClient, type ApplyRequest } from "../../src/apply/index.js";
import { ANNOTATION_CREATED_FOR } from "../../src/apply/namespaces.js";
import type { KubeObject } from "../../src/core/object.js";
import { startHarness, type Harness } from "../../src/provision/local/harness.js";
import { kube } from "../support/kubectl-free-client.js";

const cm = (name: string, namespace: string): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace },
  data: { k: "v" },
});
const role: KubeObject = {
  apiVersion: "rbac.authorization.k8s.io/v1",
  kind: "ClusterRole",
  metadata: { name: "reader", namespace: "not-a-namespace" },
  rules: [],
};

describe("createNamespaces (Argo CD's CreateNamespace=true), on a real kube-apiserver", () => {
  let harness: Harness;
  let client: ClusterClient;
  const unit = { name: "tenants", namespace: "flux-system" };
  const req = (objects: KubeObject[], extra: Partial<ApplyRequest> = {}): ApplyRequest => ({
    unit,
    objects,
    prune: true,
    wait: false,
    timeoutMs: 20_000,
    ...extra,
  });
  const namespace = async (name: string) => kube(harness.clusters[0]!).get(`/api/v1/namespaces/${name}`);

  beforeAll(async () => {
    harness = await startHarness({ profile: "apiserver", clusters: ["ns"] });
    client = ClusterClient.fromKubeconfig(harness.clusters[0]!.kubeconfig);
  });
  afterAll(async () => {
    client?.close();
    await harness?.stop();
  });

  it("without it, an object in a namespace nothing creates fails the unit as in Flux, naming the object and the namespace", async () => {
    const error = await applyUnit(client, req([cm("quota", "team-a")])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApplyFailure);
    expect((error as ApplyFailure).message).toMatch(/^ConfigMap\/team-a\/quota: namespaces "team-a" not found/);
    expect((await namespace("team-a")).status).toBe(404);
  });

  it("creates the missing namespaces, marked as created for the unit, and not those of cluster-scoped objects", async () => {
    const result = await applyUnit(
      client,
      req([cm("quota", "team-a"), cm("limits", "team-b"), role], { createNamespaces: true }),
    );
    expect(result.changeSet.filter((c) => c.ref.startsWith("Namespace/")).map((c) => [c.ref, c.action])).toEqual([
      ["Namespace/team-a", "created"],
      ["Namespace/team-b", "created"],
    ]);
    expect((await namespace("team-a")).body.metadata.annotations[ANNOTATION_CREATED_FOR]).toBe("flux-system/tenants");
    expect((await namespace("not-a-namespace")).status).toBe(404);
    // Not the unit's: the inventory holds what git holds.
    expect(result.inventory.map((e) => e.id)).toEqual([
      "_reader_rbac.authorization.k8s.io_ClusterRole",
      "team-a_quota__ConfigMap",
      "team-b_limits__ConfigMap",
    ]);
  });

  it("leaves a namespace that exists, or that the unit itself declares, to the unit", async () => {
    const own: KubeObject = {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "team-c", labels: { owner: "git" } },
    };
    const result = await applyUnit(
      client,
      req([own, cm("quota", "team-c"), cm("quota", "team-a")], { createNamespaces: true }),
    );
    expect(
      result.changeSet.filter((c) => c.ref.startsWith("Namespace/")).map((c) => [c.ref, c.action, c.note]),
    ).toEqual([["Namespace/team-c", "created", undefined]]);
    expect((await namespace("team-c")).body.metadata.annotations?.[ANNOTATION_CREATED_FOR]).toBeUndefined();
  });

  it("never prunes a namespace it created: removing the unit's objects deletes them and keeps the namespace", async () => {
    const first = await applyUnit(client, req([cm("quota", "team-d")], { createNamespaces: true }));
    const second = await applyUnit(client, req([], { createNamespaces: true, previousInventory: first.inventory }));
    expect(second.changeSet.map((c) => [c.ref, c.action])).toEqual([["ConfigMap/team-d/quota", "deleted"]]);
    expect((await namespace("team-d")).status).toBe(200);
  });
});
