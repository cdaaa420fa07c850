import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterClient } from "../../src/core/kube/index.js";
import { Controller } from "../../src/controller/controller.js";
import { FleetPlanner } from "../../src/controller/fleet-planner.js";
import { createLogger } from "../../src/core/log.js";
import type { Kustomization } from "../../src/core/flux.js";
import { startControllerTestbed, type ControllerTestbed } from "../support/controller-testbed.js";
import { until } from "../support/until.js";

const files: Record<string, string> = {
  "providers/local/v1/mgmt/namespaced/w1/cluster.yaml": `apiVersion: cluster.x-k8s.io/v1beta1
kind: Cluster
metadata: {name: w1, namespace: w1}
spec:
  infrastructureRef: {apiVersion: infrastructure.cluster.x-k8s.io/v1beta1, kind: LocalCluster, name: w1}
`,
  "providers/local/v1/clusters/dev/w1/info.yaml": `apiVersion: v1
kind: ConfigMap
metadata: {name: cluster-info, namespace: kube-public}
data: {cluster: w1}
`,
  "providers/local/v1/clusters/dev/common/widget.yaml": `apiVersion: example.com/v1
kind: Widget
metadata: {name: shiny, namespace: default}
spec: {size: 1}
`,
  "features/widgets/crd.yaml": `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`,
  "tenants/local/common/team/namespace.yaml": `apiVersion: v1
kind: Namespace
metadata: {name: team}
`,
  "tenants/local/dev/team/settings.yaml": `apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: team}
data: {colour: blue}
`,
};

type Unit = Kustomization;
const ready = (k: Unit) => k.status?.conditions?.find((c) => c.type === "Ready");

describe("the controller reconciles a convention-mode repository from git", () => {
  let bed: ControllerTestbed;
  let mgmt: ClusterClient;
  let w1: ClusterClient;
  let controller: Controller | undefined;
  let planner: FleetPlanner | undefined;

  const units = async () =>
    (await mgmt.request<{ items: Unit[] }>("GET", "/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations")).body.items;
  const unit = async (ns: string, name: string) =>
    (await units()).find((u) => u.metadata.namespace === ns && u.metadata.name === name);
  const startController = async () => {
    const logger = createLogger({ level: process.env.FLOTILLA_LOG_LEVEL ?? "silent" });
    controller = new Controller({
      kubeconfig: bed.harness.get("mgmt")!.kubeconfig,
      concurrency: 4,
      logger,
      allowInsecureHttp: true,
    });
    await controller.start();
    planner = new FleetPlanner(controller, { repoUrl: bed.repoUrl, logger });
    await planner.bootstrap();
  };
  const allReadyAt = async (sha: string) =>
    until(`all units at ${sha.slice(0, 7)}`, async () => {
      const list = await units();
      return (
        list.length >= 6 &&
        list.every((u) => ready(u)?.status === "True" && u.status?.lastAppliedRevision === `main@sha1:${sha}`) &&
        list
      );
    });

  beforeAll(async () => {
    bed = await startControllerTestbed({ workloads: ["w1"], message: "feat(widgets): first", files });
    mgmt = bed.mgmt;
    w1 = ClusterClient.fromKubeconfig(bed.harness.get("w1")!.kubeconfig);
  }, 120_000);
  afterAll(async () => {
    controller?.stop();
    w1?.close();
    await bed?.stop();
  });

  it("waits with ClusterNotReady until the kubeconfig Secret exists, then starts on the Secret's event", async () => {
    await startController();
    const waiting = await until("a unit waiting for its cluster", async () => {
      const u = await unit("w1", "w1");
      return u && ready(u)?.reason === "ClusterNotReady" && u;
    });
    expect(ready(waiting)?.message).toContain("w1-kubeconfig");
    const triggered = controller!.triggeredBy("kubeconfig Secret", "w1/w1");
    const created = Date.now();
    await mgmt.request("POST", "/api/v1/namespaces/w1/secrets", {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "w1-kubeconfig", namespace: "w1" },
      type: "cluster.x-k8s.io/secret",
      stringData: { value: bed.harness.get("w1")!.kubeconfig },
    });
    await until(
      "w1's first unit applied",
      async () =>
        (await w1.request("GET", "/api/v1/namespaces/kube-public/configmaps/cluster-info", undefined, { allow: [404] }))
          .status === 200,
      30_000,
    );
    // The cause: the Secret's watch event requeued the waiting unit (its interval is minutes away).
    // The time bound is loose on purpose: a shared 2-core machine says nothing about a second.
    expect(controller!.triggeredBy("kubeconfig Secret", "w1/w1")).toBeGreaterThan(triggered);
    expect(Date.now() - created).toBeLessThan(30_000);
  });

  it("brings every unit to Ready with Flux's status, the custom resource after its CRD", async () => {
    const sha = bed.repo.git("rev-parse", "HEAD");
    const list = await allReadyAt(sha);
    expect(list.map((u) => `${u.metadata.namespace}/${u.metadata.name}`).sort()).toEqual(
      ["flux-system/mgmt", "w1/common", "w1/feature-widgets", "w1/tenants-common", "w1/tenants-dev", "w1/w1"].sort(),
    );
    const common = list.find((u) => u.metadata.name === "common")!;
    expect(ready(common)).toMatchObject({
      reason: "ReconciliationSucceeded",
      message: `Applied revision: main@sha1:${sha}`,
    });
    expect(common.spec.dependsOn).toEqual([{ name: "feature-widgets" }]);
    expect(common.status?.inventory?.entries).toEqual([{ id: "default_shiny_example.com_Widget", v: "v1" }]);
    expect((await w1.request("GET", "/apis/example.com/v1/namespaces/default/widgets/shiny")).status).toBe(200);
    const git = (
      await mgmt.request<{ status: { artifact: { revision: string }; conditions: Array<{ message: string }> } }>(
        "GET",
        "/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/main",
      )
    ).body;
    expect(git.status.artifact.revision).toBe(`main@sha1:${sha}`);
    expect(git.status.conditions[0]!.message).toBe(`stored artifact for revision 'main@sha1:${sha}'`);
    // The management unit applied the Cluster object.
    expect((await mgmt.request("GET", "/apis/cluster.x-k8s.io/v1beta1/namespaces/w1/clusters/w1")).status).toBe(200);
  });

  it("rolls out a new commit, pruning what left git", async () => {
    const sha = bed.repo.commit("tenants(team): green, no settings file", {
      "tenants/local/dev/team/settings.yaml": null,
      "tenants/local/dev/team/colour.yaml":
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: colour, namespace: team}\ndata: {colour: green}\n",
    });
    bed.repo.push();
    controller!.requestPollOfUrl((url) => url.endsWith("/repo.git"));
    await allReadyAt(sha);
    expect(
      (await w1.request("GET", "/api/v1/namespaces/team/configmaps/settings", undefined, { allow: [404] })).status,
    ).toBe(404);
    expect((await w1.request("GET", "/api/v1/namespaces/team/configmaps/colour")).status).toBe(200);
  });

  it("keeps the last applied state when a render fails, and says which file", async () => {
    const good = bed.repo.git("rev-parse", "HEAD");
    const bad = bed.repo.commit("fix(widgets): broken yaml", {
      "providers/local/v1/clusters/dev/common/widget.yaml":
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: shiny\n",
    });
    bed.repo.push();
    controller!.requestPollOfUrl(() => true);
    const failed = await until("BuildFailed", async () => {
      const u = await unit("w1", "common");
      return u && ready(u)?.reason === "BuildFailed" && u;
    });
    expect(ready(failed)?.message).toContain("widget.yaml");
    expect(failed.status?.lastAppliedRevision).toBe(`main@sha1:${good}`);
    expect(failed.status?.lastAttemptedRevision).toBe(`main@sha1:${bad}`);
    expect((await w1.request("GET", "/apis/example.com/v1/namespaces/default/widgets/shiny")).status).toBe(200);
    bed.repo.commit("fix(widgets): repaired", {
      "providers/local/v1/clusters/dev/common/widget.yaml":
        files["providers/local/v1/clusters/dev/common/widget.yaml"]!,
    });
    bed.repo.push();
    controller!.requestPollOfUrl(() => true);
    await allReadyAt(bed.repo.git("rev-parse", "HEAD"));
  });

  it("resumes after a restart from the objects' status, rewriting nothing on the cluster", async () => {
    const before = (
      await w1.request<{ metadata: { resourceVersion: string } }>(
        "GET",
        "/apis/example.com/v1/namespaces/default/widgets/shiny",
      )
    ).body.metadata.resourceVersion;
    controller!.stop();
    await startController();
    await controller!.whenIdle();
    await new Promise((r) => setTimeout(r, 1_000));
    await controller!.whenIdle();
    await allReadyAt(bed.repo.git("rev-parse", "HEAD"));
    const after = (
      await w1.request<{ metadata: { resourceVersion: string } }>(
        "GET",
        "/apis/example.com/v1/namespaces/default/widgets/shiny",
      )
    ).body.metadata.resourceVersion;
    expect(after).toBe(before);
  });

  it("deletes the units of what left git and prunes what they applied", async () => {
    bed.repo.commit("tenants(team): no dev settings", { "tenants/local/dev/team/colour.yaml": null });
    bed.repo.push();
    controller!.requestPollOfUrl(() => true);
    await until("tenants-dev deleted", async () => !(await unit("w1", "tenants-dev")));
    await until(
      "its ConfigMap pruned",
      async () =>
        (await w1.request("GET", "/api/v1/namespaces/team/configmaps/colour", undefined, { allow: [404] })).status ===
        404,
    );

    bed.repo.commit("providers(local): remove w1", {
      "providers/local/v1/mgmt/namespaced/w1/cluster.yaml": null,
      "providers/local/v1/clusters/dev/w1/info.yaml": null,
    });
    bed.repo.push();
    controller!.requestPollOfUrl(() => true);
    await until("w1's units deleted", async () => !(await units()).some((u) => u.metadata.namespace === "w1"));
    expect(
      (await w1.request("GET", "/api/v1/namespaces/kube-public/configmaps/cluster-info", undefined, { allow: [404] }))
        .status,
    ).toBe(404);
    expect(
      (
        await w1.request(
          "GET",
          "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com",
          undefined,
          { allow: [404] },
        )
      ).status,
    ).toBe(404);
    expect(
      (
        await mgmt.request("GET", "/apis/cluster.x-k8s.io/v1beta1/namespaces/w1/clusters/w1", undefined, {
          allow: [404],
        })
      ).status,
    ).toBe(404);
  });
});
