import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClusterClient } from "../../src/core/kube/index.js";
import { FleetPlanner } from "../../src/controller/fleet-planner.js";
import type { GitRepository, Kustomization } from "../../src/core/flux.js";
import { createLogger } from "../../src/core/log.js";
import { startControllerTestbed, type ControllerTestbed } from "../support/controller-testbed.js";
import { until } from "../support/until.js";

// A convention-mode repository on `master` (no `main`), two dev clusters, one of whose folders does not render.
const cluster = (name: string) =>
  `apiVersion: cluster.x-k8s.io/v1beta1\nkind: Cluster\nmetadata: {name: ${name}, namespace: ${name}}\n`;
const info = (name: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cluster-info, namespace: kube-public}\ndata: {cluster: ${name}}\n`;
const FILES: Record<string, string> = {
  "providers/local/v1/mgmt/clusters.yaml": `${cluster("w1")}---\n${cluster("w2")}`,
  "providers/local/v1/clusters/dev/w1/info.yaml": info("w1"),
  "providers/local/v1/clusters/dev/w1/broken.yaml":
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\n   namespace: default\n",
  "providers/local/v1/clusters/dev/w2/info.yaml": info("w2"),
  "tenants/local/common/team/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n",
};

describe("the fleet planner on a repository it has not seen", () => {
  let bed: ControllerTestbed;
  let mgmt: ClusterClient;

  beforeAll(async () => {
    bed = await startControllerTestbed({ workloads: ["w1", "w2"], branch: "master", files: FILES });
    mgmt = bed.mgmt;
  }, 120_000);
  afterAll(async () => {
    await bed?.stop();
  });

  it("follows master, applies every planned unit although one does not render, and only that unit fails, naming the file and line", async () => {
    const logger = createLogger({ level: process.env.FLOTILLA_LOG_LEVEL ?? "silent" });
    const controller = await bed.startController({ concurrency: 4, logger });
    await new FleetPlanner(controller, { repoUrl: bed.repoUrl, logger }).bootstrap();
    // The kubeconfig Secrets, once the plan has created the clusters' namespaces.
    for (const name of ["w1", "w2"]) {
      const secret = {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: `${name}-kubeconfig`, namespace: name },
        type: "cluster.x-k8s.io/secret",
        stringData: { value: bed.harness.get(name)!.kubeconfig },
      };
      await until(
        `namespace ${name}`,
        async () => (await mgmt.request("POST", `/api/v1/namespaces/${name}/secrets`, secret)).status === 201,
      );
    }
    const sha = bed.firstCommit;
    const ready = (u: Kustomization) => u.status?.conditions?.find((c) => c.type === "Ready");
    const units = await until("every unit but w1/w1 Ready, w1/w1 failed", async () => {
      const list = (
        await mgmt.request<{ items: Kustomization[] }>("GET", "/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations")
      ).body.items;
      const settled =
        list.length === 5 &&
        list.every((u) =>
          u.metadata.name === "w1" ? ready(u)?.reason === "BuildFailed" : ready(u)?.status === "True",
        );
      return settled && list;
    });
    expect(units.map((u) => `${u.metadata.namespace}/${u.metadata.name}`).sort()).toEqual([
      "flux-system/mgmt",
      "w1/tenants-common",
      "w1/w1",
      "w2/tenants-common",
      "w2/w2",
    ]);
    for (const u of units)
      if (u.metadata.name !== "w1") expect(u.status?.lastAppliedRevision).toBe(`master@sha1:${sha}`);
    expect(ready(units.find((u) => u.metadata.name === "w1")!)?.message).toBe(
      "providers/local/v1/clusters/dev/w1/broken.yaml:5: malformed YAML: bad indentation of a mapping entry",
    );
    const main = (
      await mgmt.request<GitRepository>(
        "GET",
        "/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/main",
      )
    ).body;
    expect(main.spec.ref).toEqual({ branch: "master" });
  });
});
