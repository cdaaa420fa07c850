import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClusterClient } from "../../src/core/kube/index.js";
import type { Controller } from "../../src/controller/controller.js";
import { startControllerTestbed, type ControllerTestbed } from "../support/controller-testbed.js";
import { until } from "../support/until.js";

describe("postBuild.substituteFrom: a changed ConfigMap or Secret rolls out at once, not at the next interval", () => {
  let bed: ControllerTestbed;
  let mgmt: ClusterClient;
  let controller: Controller;
  const painted = async () =>
    (
      await mgmt.request<{ data: Record<string, string> }>(
        "GET",
        "/api/v1/namespaces/default/configmaps/painted",
        undefined,
        {
          allow: [404],
        },
      )
    ).body.data;

  beforeAll(async () => {
    bed = await startControllerTestbed({
      message: "feat: painted",
      files: {
        "apps/painted.yaml":
          "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: painted, namespace: default}\ndata: {colour: '${colour}', size: '${size}'}\n",
      },
    });
    mgmt = bed.mgmt;
    const objects = [
      ...bed.fluxSource("apps"),
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "vars", namespace: "flux-system" },
        data: { colour: "blue" },
      },
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "sized", namespace: "flux-system" },
        stringData: { size: "small" },
      },
      {
        apiVersion: "kustomize.toolkit.fluxcd.io/v1",
        kind: "Kustomization",
        metadata: { name: "apps", namespace: "flux-system" },
        spec: {
          interval: "10m",
          path: "./apps",
          prune: true,
          sourceRef: { kind: "GitRepository", name: "apps" },
          postBuild: {
            substituteFrom: [
              { kind: "ConfigMap", name: "vars" },
              { kind: "Secret", name: "sized" },
            ],
          },
        },
      },
    ];
    await bed.apply(objects);
    controller = await bed.startController();
  }, 180_000);
  afterAll(async () => {
    await bed?.stop();
  });

  it("applies the values of the referenced ConfigMap and Secret", async () => {
    expect(await until("the first apply", async () => (await painted())?.colour === "blue" && painted())).toEqual({
      colour: "blue",
      size: "small",
    });
  });

  it("re-applies on the ConfigMap's change event, not at the interval", async () => {
    const triggered = controller.triggeredBy("ConfigMap substituteFrom", "flux-system/apps");
    const started = Date.now();
    await mgmt.request(
      "PATCH",
      "/api/v1/namespaces/flux-system/configmaps/vars",
      { data: { colour: "green" } },
      { contentType: "application/merge-patch+json" },
    );
    await until("the new colour", async () => (await painted())?.colour === "green");
    // The cause, not a stopwatch: the ConfigMap's event requeued the unit (its interval is 10m); the bound is loose.
    expect(controller.triggeredBy("ConfigMap substituteFrom", "flux-system/apps")).toBeGreaterThan(triggered);
    expect(Date.now() - started).toBeLessThan(60_000);
  });

  it("re-applies on the Secret's change event, and never shows its value in the unit's status", async () => {
    const triggered = controller.triggeredBy("Secret substituteFrom", "flux-system/apps");
    const started = Date.now();
    await mgmt.request(
      "PATCH",
      "/api/v1/namespaces/flux-system/secrets/sized",
      { stringData: { size: "large" } },
      { contentType: "application/merge-patch+json" },
    );
    await until("the new size", async () => (await painted())?.size === "large");
    expect(controller.triggeredBy("Secret substituteFrom", "flux-system/apps")).toBeGreaterThan(triggered);
    expect(Date.now() - started).toBeLessThan(60_000);
    const unit = (
      await mgmt.request("GET", "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/apps")
    ).body;
    expect(JSON.stringify(unit)).not.toContain("large");
  });

  it("hides a substituted Secret value that the apiserver echoes when it refuses the object, in Ready and in events", async () => {
    const VALUE = "Hunter2 Not A Label!";
    bed.repo.commit("feat: leaky", {
      "leaky/leaky.yaml":
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: leaky, namespace: default, labels: {pw: '${pw}'}}\n",
    });
    bed.repo.push();
    await bed.apply([
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "leaky-vars", namespace: "flux-system" },
        stringData: { pw: VALUE },
      },
      {
        apiVersion: "kustomize.toolkit.fluxcd.io/v1",
        kind: "Kustomization",
        metadata: { name: "leaky", namespace: "flux-system" },
        spec: {
          interval: "10m",
          path: "./leaky",
          prune: true,
          sourceRef: { kind: "GitRepository", name: "apps" },
          postBuild: { substituteFrom: [{ kind: "Secret", name: "leaky-vars" }] },
        },
      },
    ]);
    controller.requestPollOfUrl(() => true);
    type Unit = { status?: { conditions?: Array<{ type: string; status: string; message: string }> } };
    const failed = await until("the leaky unit refused by the apiserver", async () => {
      const unit = (
        await mgmt.request<Unit>(
          "GET",
          "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/leaky",
          undefined,
          {
            allow: [404],
          },
        )
      ).body;
      const ready = unit.status?.conditions?.find((c) => c.type === "Ready");
      return ready?.status === "False" && /Invalid value/.test(ready.message) && { unit, ready };
    });
    // The apiserver's refusal names the label and its value; the value is masked, the rest kept.
    expect(failed.ready.message).toContain('Invalid value: "***"');
    expect(JSON.stringify(failed.unit)).not.toContain(VALUE);
    const events = (
      await mgmt.request<{ items: Array<{ message: string; involvedObject: { name: string } }> }>(
        "GET",
        "/api/v1/namespaces/flux-system/events",
      )
    ).body.items;
    expect(events.filter((e) => e.involvedObject.name === "leaky").length).toBeGreaterThan(0);
    expect(JSON.stringify(events)).not.toContain(VALUE);
  });
});
