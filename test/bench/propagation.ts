import { ClusterClient } from "../../src/core/kube/index.js";
import { Controller } from "../../src/controller/controller.js";
import { FleetPlanner } from "../../src/controller/fleet-planner.js";
import type { Kustomization } from "../../src/core/flux.js";
import { startHarness } from "../../src/provision/local/harness.js";
import { startGitHttpServer } from "../support/git-http-server.js";
import { TestRepo } from "../support/git-repo.js";
import { printJson, printTable } from "./report.js";
import { installCrds } from "../support/management-cluster.js";

const CLUSTERS = Number(process.env.PROPAGATION_CLUSTERS ?? 10);

/** A convention-mode fleet: CLUSTERS non-prod clusters, 7 units each (3 features, common, cluster, 2 tenant layers). */
function fleet(colour: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const f of ["alpha", "beta", "gamma"]) {
    files[`features/${f}/config.yaml`] =
      `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${f}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${f}, namespace: ${f}}\ndata: {colour: ${colour}}\n`;
  }
  files["providers/local/v1/clusters/non-prod/common/settings.yaml"] =
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: common, namespace: default}\ndata: {tier: non-prod}\n";
  files["tenants/local/common/team/namespace.yaml"] = "apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n";
  files["tenants/local/non-prod/team/quota.yaml"] =
    "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: team, namespace: team}\nspec: {hard: {pods: '20'}}\n";
  for (let i = 1; i <= CLUSTERS; i++) {
    const c = `np-${i}`;
    files[`providers/local/v1/mgmt/namespaced/${c}/cluster.yaml`] =
      `apiVersion: cluster.x-k8s.io/v1beta1\nkind: Cluster\nmetadata: {name: ${c}, namespace: ${c}}\nspec:\n  infrastructureRef: {apiVersion: infrastructure.cluster.x-k8s.io/v1beta1, kind: LocalCluster, name: ${c}}\n`;
    files[`providers/local/v1/clusters/non-prod/${c}/info.yaml`] =
      `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cluster-info, namespace: kube-public}\ndata: {cluster: ${c}}\n`;
  }
  return files;
}

/**
 * Propagation: CLUSTERS local non-prod workload clusters (real kube-apiservers) with 7 units each,
 * reconciled by the controller from a repository served over smart HTTP. Measures the time from a
 * commit on main (announced as a push webhook would) to every unit reporting the new revision, and
 * the controller process's peak memory.
 */
export async function run(): Promise<void> {
  const names = Array.from({ length: CLUSTERS }, (_, i) => `np-${i + 1}`);
  const harness = await startHarness({ profile: "apiserver", clusters: ["mgmt", ...names] });
  const repo = TestRepo.create();
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
  const server = await (async () => {
    repo.commit("feat: fleet", fleet("blue"));
    repo.publish();
    return startGitHttpServer(repo.root);
  })();
  const mgmt = ClusterClient.fromKubeconfig(harness.get("mgmt")!.kubeconfig);
  let controller: Controller | undefined;
  try {
    await installCrds(mgmt);
    const units = async () =>
      (
        await mgmt.request<{ items: Kustomization[] }>("GET", "/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations")
      ).body.items.filter((u) => u.metadata.namespace !== "flux-system");
    const atRevision = (u: Kustomization, sha: string) =>
      u.status?.lastAppliedRevision === `main@sha1:${sha}` &&
      u.status.conditions?.some((c) => c.type === "Ready" && c.status === "True");
    /**
     * Waits until the units of every cluster but `except` are at `sha` and, when `all`, every unit;
     * returns the ms after `from` at which each happened.
     */
    const allAt = async (sha: string, { from = Date.now(), except = "", all = true } = {}) => {
      let othersMs: number | undefined;
      for (;;) {
        const list = await units();
        const others = list.filter((u) => u.metadata.namespace !== except);
        if (
          othersMs === undefined &&
          others.length === 7 * (except ? CLUSTERS - 1 : CLUSTERS) &&
          others.every((u) => atRevision(u, sha))
        )
          othersMs = Date.now() - from;
        const allMs =
          list.length === 7 * CLUSTERS && list.every((u) => atRevision(u, sha)) ? Date.now() - from : undefined;
        if (othersMs !== undefined && (!all || allMs !== undefined)) return { othersMs, allMs };
        await new Promise((r) => setTimeout(r, 50));
      }
    };

    const t0 = Date.now();
    controller = new Controller({
      kubeconfig: harness.get("mgmt")!.kubeconfig,
      concurrency: 10,
      allowInsecureHttp: true,
    });
    await controller.start();
    await new FleetPlanner(controller, { repoUrl: `${server.url}/repo.git` }).bootstrap();
    for (const c of names) {
      await mgmt.request(
        "POST",
        "/api/v1/namespaces",
        { apiVersion: "v1", kind: "Namespace", metadata: { name: c } },
        { allow: [409] },
      );
      await mgmt.request(
        "POST",
        `/api/v1/namespaces/${c}/secrets`,
        {
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: `${c}-kubeconfig`, namespace: c },
          type: "cluster.x-k8s.io/secret",
          stringData: { value: harness.get(c)!.kubeconfig },
        },
        { allow: [409] },
      );
    }
    await allAt(repo.git("rev-parse", "HEAD"));
    const firstRollout = (Date.now() - t0) / 1000;

    // Healthy runs, then the same with np-1's apiserver killed (connections refused) and frozen
    // (SIGSTOP: connections hang until the unit's timeout). The figure compared is the time for the
    // other clusters' units, which an unreachable cluster must not delay.
    const faulty = names[0]!;
    const rows: Array<Record<string, number | string>> = [];
    const commits = async (scenario: string, colours: string[]) => {
      for (const colour of colours) {
        const sha = repo.commit(`feat: ${colour}`, fleet(colour));
        repo.push();
        const t = Date.now();
        controller!.requestPollOfUrl(() => true);
        const healthy = scenario === "healthy";
        const { othersMs, allMs } = await allAt(sha, { from: t, except: faulty, all: healthy });
        rows.push({
          scenario,
          commit: colour,
          "seconds, all units": allMs === undefined ? "—" : allMs / 1000,
          [`seconds, clusters other than ${faulty}`]: othersMs / 1000,
        });
      }
    };
    await commits("healthy", ["green", "red", "yellow", "cyan", "white"]);
    const plane = harness.get(faulty)!;
    process.kill(plane.apiserverPid()!, "SIGKILL");
    await commits(`${faulty} apiserver killed`, ["teal", "olive", "navy"]);
    await plane.restart();
    const pid = plane.apiserverPid()!;
    process.kill(pid, "SIGSTOP");
    try {
      await commits(`${faulty} apiserver frozen`, ["pink", "grey", "plum"]);
    } finally {
      process.kill(pid, "SIGCONT");
    }

    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const seconds = (scenario: string, key: string) =>
      rows.filter((r) => r.scenario === scenario).map((r) => r[key] as number);
    const othersKey = `seconds, clusters other than ${faulty}`;
    const propagation = median(seconds("healthy", "seconds, all units"));
    const healthyOthers = median(seconds("healthy", othersKey));
    const killedOthers = median(seconds(`${faulty} apiserver killed`, othersKey));
    const frozenOthers = median(seconds(`${faulty} apiserver frozen`, othersKey));
    printTable(
      `propagation: ${CLUSTERS} clusters × 7 units, commit on main → every unit at the new revision (goal ≤ 10 s; with one apiserver down, the others within 20% of healthy)`,
      [
        ...rows,
        { scenario: "first rollout (from empty)", commit: "—", "seconds, all units": firstRollout, [othersKey]: "—" },
      ],
    );
    printTable("one workload apiserver down: median time for the other clusters' units", [
      { scenario: "healthy", seconds: healthyOthers, "vs healthy": "—" },
      {
        scenario: "apiserver killed",
        seconds: killedOthers,
        "vs healthy": `${((killedOthers / healthyOthers - 1) * 100).toFixed(0)}%`,
      },
      {
        scenario: "apiserver frozen",
        seconds: frozenOthers,
        "vs healthy": `${((frozenOthers / healthyOthers - 1) * 100).toFixed(0)}%`,
      },
    ]);
    printTable("controller process memory", [{ "peak RSS MiB": Math.round(peakRss / 2 ** 20) }]);
    printJson("propagation", {
      clusters: CLUSTERS,
      units: 7 * CLUSTERS,
      medianSeconds: propagation,
      runs: seconds("healthy", "seconds, all units"),
      firstRolloutSeconds: firstRollout,
      peakRssMiB: Math.round(peakRss / 2 ** 20),
    });
    printJson("propagation-one-apiserver-down", {
      clusters: CLUSTERS - 1,
      units: 7 * (CLUSTERS - 1),
      healthyMedianSeconds: healthyOthers,
      killedMedianSeconds: killedOthers,
      frozenMedianSeconds: frozenOthers,
      killedVsHealthy: killedOthers / healthyOthers,
      frozenVsHealthy: frozenOthers / healthyOthers,
    });
  } finally {
    clearInterval(sampler);
    controller?.stop();
    mgmt.close();
    await server.stop();
    await harness.stop();
    repo.remove();
  }
}
