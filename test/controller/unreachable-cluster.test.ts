import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterClient } from "../../src/core/kube/index.js";
import type { Controller } from "../../src/controller/controller.js";
import { FleetPlanner } from "../../src/controller/fleet-planner.js";
import type { Kustomization } from "../../src/core/flux.js";
import { startControllerTestbed, type ControllerTestbed } from "../support/controller-testbed.js";
import { until } from "../support/until.js";

const CLUSTERS = ["w1", "w2", "w3"];
const FROZEN = "w1";

/** A convention-mode fleet of three clusters, four units each, every object carrying `colour`. */
function fleet(colour: string): Record<string, string> {
  const files: Record<string, string> = {
    // A failed unit retries after 5 s (Flux's default is its interval, 10m here).
    "flotilla.yaml": "defaults: {retryInterval: 5s}\n",
    "features/paint/paint.yaml": `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: paint, namespace: default}\ndata: {colour: ${colour}}\n`,
    "providers/local/v1/clusters/dev/common/common.yaml": `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: common, namespace: default}\ndata: {colour: ${colour}}\n`,
    "tenants/local/common/team/team.yaml": `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: team, namespace: default}\ndata: {colour: ${colour}}\n`,
  };
  for (const c of CLUSTERS) {
    files[`providers/local/v1/mgmt/namespaced/${c}/cluster.yaml`] =
      `apiVersion: cluster.x-k8s.io/v1beta1\nkind: Cluster\nmetadata: {name: ${c}, namespace: ${c}}\nspec:\n  infrastructureRef: {apiVersion: infrastructure.cluster.x-k8s.io/v1beta1, kind: LocalCluster, name: ${c}}\n`;
    files[`providers/local/v1/clusters/dev/${c}/info.yaml`] =
      `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cluster-info, namespace: default}\ndata: {colour: ${colour}}\n`;
  }
  return files;
}

const ready = (k: Kustomization) => k.status?.conditions?.find((c) => c.type === "Ready");

describe("an unreachable workload cluster delays only its own units", () => {
  let bed: ControllerTestbed;
  let mgmt: ClusterClient;
  let controller: Controller;
  let frozenPid: number | undefined;

  const units = async () =>
    (
      await mgmt.request<{ items: Kustomization[] }>("GET", "/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations")
    ).body.items.filter((u) => u.metadata.namespace !== "flux-system");
  const atRevision = (u: Kustomization, sha: string) =>
    ready(u)?.status === "True" && u.status?.lastAppliedRevision === `main@sha1:${sha}`;
  const commit = (colour: string) => {
    const sha = bed.repo.commit(`feat: ${colour}`, fleet(colour));
    bed.repo.push();
    controller.requestPollOfUrl(() => true);
    return sha;
  };

  beforeAll(async () => {
    bed = await startControllerTestbed({ workloads: CLUSTERS, message: "feat: blue", files: fleet("blue") });
    mgmt = bed.mgmt;
    controller = await bed.startController({ concurrency: 4 });
    await new FleetPlanner(controller, { repoUrl: bed.repoUrl }).bootstrap();
    for (const c of CLUSTERS) {
      await mgmt.request(
        "POST",
        "/api/v1/namespaces",
        { apiVersion: "v1", kind: "Namespace", metadata: { name: c } },
        { allow: [409] },
      );
      await mgmt.request("POST", `/api/v1/namespaces/${c}/secrets`, {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: `${c}-kubeconfig`, namespace: c },
        type: "cluster.x-k8s.io/secret",
        stringData: { value: bed.harness.get(c)!.kubeconfig },
      });
    }
    const sha = bed.firstCommit;
    await until("the first rollout", async () => {
      const list = await units();
      return list.length === 4 * CLUSTERS.length && list.every((u) => atRevision(u, sha));
    });
  }, 180_000);
  afterAll(async () => {
    if (frozenPid) process.kill(frozenPid, "SIGCONT");
    await bed?.stop();
  });

  it("rolls a commit out to the other clusters while the frozen cluster's units still wait for their timeout, then heals it", async () => {
    // SIGSTOP: the apiserver accepts connections but never answers, the worst case for a client.
    frozenPid = bed.harness.get(FROZEN)!.apiserverPid()!;
    process.kill(frozenPid, "SIGSTOP");
    const sha = commit("green");
    const snapshot = await until("the other clusters at the new revision", async () => {
      const list = await units();
      const others = list.filter((u) => u.metadata.namespace !== FROZEN);
      return others.length === 4 * (CLUSTERS.length - 1) && others.every((u) => atRevision(u, sha)) && list;
    });
    // The cause, not a stopwatch: when the others are done, no unit of the frozen cluster has seen its
    // request time out yet (15 s), so the others did not wait for it.
    const timedOut = snapshot.filter(
      (u) => u.metadata.namespace === FROZEN && /timed out|timeout/i.test(ready(u)?.message ?? ""),
    );
    expect(timedOut.map((u) => u.metadata.name)).toEqual([]);
    const frozenUnits = (await units()).filter((u) => u.metadata.namespace === FROZEN);
    expect(frozenUnits.some((u) => atRevision(u, sha))).toBe(false);
    for (const c of CLUSTERS.filter((c) => c !== FROZEN)) {
      const paint = await ClusterClient.fromKubeconfig(bed.harness.get(c)!.kubeconfig).request<{
        data: { colour: string };
      }>("GET", "/api/v1/namespaces/default/configmaps/paint");
      expect(paint.body.data.colour).toBe("green");
    }

    // The frozen cluster's units fail on their own, with a message that names the cluster's server.
    const failed = await until(
      "a frozen cluster's unit to report its timeout",
      async () =>
        (await units()).find(
          (u) =>
            u.metadata.namespace === FROZEN &&
            ready(u)?.status === "False" &&
            /timed out|timeout/i.test(ready(u)?.message ?? ""),
        ),
      90_000,
    );
    expect(ready(failed)?.message).toContain(bed.harness.get(FROZEN)!.server);

    // Thawed, the cluster catches up without anyone touching the fleet.
    process.kill(frozenPid, "SIGCONT");
    frozenPid = undefined;
    await until(
      "the thawed cluster at the new revision",
      async () => {
        const list = (await units()).filter((u) => u.metadata.namespace === FROZEN);
        return list.length === 4 && list.every((u) => atRevision(u, sha));
      },
      120_000,
    );
  }, 300_000);
});
