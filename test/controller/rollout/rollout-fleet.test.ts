import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyUnit } from "../../../src/apply/apply.js";
import { ClusterClient } from "../../../src/core/kube/index.js";
import { Controller } from "../../../src/controller/controller.js";
import type { KubeObject } from "../../../src/core/object.js";
import type { Kustomization } from "../../../src/core/flux.js";
import { startHarness, type Harness } from "../../../src/provision/local/harness.js";
import type { RolloutObject } from "../../../src/rollout/index.js";
import { startGitHttpServer, type GitHttpServer } from "../../support/git-http-server.js";
import { TestRepo } from "../../support/git-repo.js";
import { until } from "../../support/until.js";
import { capture } from "../../support/capture-output.js";
import { main } from "../../../src/cli/dispatch.js";
import { installCrds } from "../../support/management-cluster.js";

/**
 * The proof of issue 19 on real control planes (the `full` profile: apiserver, controller-manager,
 * scheduler and the simulated kubelet, whose `crashloop` image never becomes Ready): four prod
 * clusters in three waves — canary (ring=canary, soak 2s), early (ring=early), rest (one at a time).
 * Each cluster has one unit, `apps`, a Deployment with health checks (wait, timeout 15s), following
 * the GitRepository `release`. Kubernetes 1.20 shows every behaviour used here.
 */
const CLUSTERS = ["prod-canary", "prod-a", "prod-b", "prod-c"];
const LABELS: Record<string, Record<string, string>> = {
  "prod-canary": { ring: "canary" },
  "prod-a": { ring: "early" },
  "prod-b": { maint: "night" },
  "prod-c": {},
};
const ROLLOUTS = "/apis/flotilla.dev/v1alpha1/namespaces/flux-system/rollouts";

const app = (image: string) => ({
  "apps/web.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "${image}"}]}
`,
});

describe("rollouts across a fleet of four real clusters", () => {
  let harness: Harness;
  let mgmt: ClusterClient;
  let repo: TestRepo;
  let server: GitHttpServer;
  let controller: Controller;
  const revisions: string[] = [];

  const units = async () =>
    (await mgmt.request<{ items: Kustomization[] }>("GET", "/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations")).body
      .items;
  const unitOf = async (cluster: string) => (await units()).find((u) => u.metadata.namespace === cluster)!;
  const ready = (u: Kustomization) => u.status?.conditions?.find((c) => c.type === "Ready");
  const applied = async (cluster: string) => {
    const u = await unitOf(cluster);
    return ready(u)?.status === "True" ? u.status?.lastAppliedRevision : undefined;
  };
  const rollout = async () => (await mgmt.request<RolloutObject>("GET", `${ROLLOUTS}/prod`)).body;
  const imageIn = async (cluster: string) => {
    const c = ClusterClient.fromKubeconfig(harness.get(cluster)!.kubeconfig);
    try {
      return (
        await c.request<{ spec: { template: { spec: { containers: Array<{ image: string }> } } } }>(
          "GET",
          "/apis/apps/v1/namespaces/default/deployments/web",
        )
      ).body.spec.template.spec.containers[0]!.image;
    } finally {
      c.close();
    }
  };
  const release = (image: string) => {
    const sha = repo.commit(`release ${image}`, app(image));
    repo.push();
    controller.requestPollOfUrl(() => true);
    const revision = `main@sha1:${sha}`;
    revisions.push(revision);
    return revision;
  };
  /**
   * The clusters in the order they first report `revision` (applied and Ready), polled until all
   * four do; `violations` lists every poll that saw a cluster try the revision before its wave's
   * turn (early before canary is Ready, rest before early is Ready, both rest clusters at once).
   */
  const orderOf = async (revision: string, ms = 120_000) => {
    const order: string[] = [];
    const violations: string[] = [];
    await until(
      `every cluster at ${revision} (so far: ${order.join(", ")})`,
      async () => {
        const list = await units();
        const at = (c: string) => list.find((u) => u.metadata.namespace === c)!;
        const tried = (c: string) => at(c).status?.lastAttemptedRevision === revision;
        const done = (c: string) => ready(at(c))?.status === "True" && at(c).status?.lastAppliedRevision === revision;
        if (tried("prod-a") && !done("prod-canary")) violations.push("prod-a before the canary was Ready");
        if ((tried("prod-b") || tried("prod-c")) && !done("prod-a"))
          violations.push("the rest before the early wave was Ready");
        if (tried("prod-b") && !done("prod-b") && tried("prod-c") && !done("prod-c"))
          violations.push("two clusters of the rest at once");
        for (const c of CLUSTERS) if (!order.includes(c) && done(c)) order.push(c);
        return order.length === CLUSTERS.length;
      },
      ms,
    );
    return { order, violations };
  };
  let kubeconfigDir: string;
  /** `flotilla rollout VERB prod` against the management cluster, in process. */
  const cli = (verb: string) =>
    capture(() => main(["rollout", verb, "prod", "--kubeconfig", join(kubeconfigDir, "mgmt.yaml")]));
  const patchRollout = (body: object) =>
    mgmt.request("PATCH", `${ROLLOUTS}/prod`, body, { contentType: "application/merge-patch+json" });

  beforeAll(async () => {
    harness = await startHarness({ profile: "full", clusters: ["mgmt", ...CLUSTERS] });
    mgmt = ClusterClient.fromKubeconfig(harness.get("mgmt")!.kubeconfig);
    kubeconfigDir = mkdtempSync(join(tmpdir(), "flotilla-rollout-"));
    writeFileSync(join(kubeconfigDir, "mgmt.yaml"), harness.get("mgmt")!.kubeconfig);
    await installCrds(mgmt);
    repo = TestRepo.create();
    repo.commit("release web:1", app("example.com/web:1"));
    repo.publish();
    server = await startGitHttpServer(repo.root);
    revisions.push(`main@sha1:${repo.git("rev-parse", "HEAD")}`);
    const objects: Array<Record<string, unknown>> = [
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "flux-system" } },
      {
        apiVersion: "source.toolkit.fluxcd.io/v1",
        kind: "GitRepository",
        metadata: { name: "release", namespace: "flux-system" },
        spec: { url: `${server.url}/repo.git`, ref: { branch: "main" }, interval: "10m" },
      },
      {
        apiVersion: "flotilla.dev/v1alpha1",
        kind: "Rollout",
        metadata: { name: "prod", namespace: "flux-system" },
        spec: {
          sourceRef: { name: "release" },
          onFailure: "halt",
          waves: [
            { name: "canary", clusters: { matchLabels: { ring: "canary" } }, soak: "2s" },
            { name: "early", clusters: { matchLabels: { ring: "early" } } },
            { name: "rest", maxConcurrent: 1 },
          ],
        },
      },
    ];
    for (const c of CLUSTERS) {
      objects.push(
        { apiVersion: "v1", kind: "Namespace", metadata: { name: c } },
        {
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: `${c}-kubeconfig`, namespace: c },
          type: "cluster.x-k8s.io/secret",
          stringData: { value: harness.get(c)!.kubeconfig },
        },
        {
          apiVersion: "cluster.x-k8s.io/v1beta1",
          kind: "Cluster",
          metadata: { name: c, namespace: c, labels: LABELS[c] },
          spec: {},
        },
        {
          apiVersion: "kustomize.toolkit.fluxcd.io/v1",
          kind: "Kustomization",
          metadata: { name: "apps", namespace: c },
          spec: {
            interval: "10m",
            retryInterval: "2s",
            timeout: "15s",
            wait: true,
            prune: true,
            path: "./apps",
            sourceRef: { kind: "GitRepository", name: "release", namespace: "flux-system" },
            kubeConfig: { secretRef: { name: `${c}-kubeconfig` } },
          },
        },
      );
    }
    await applyUnit(mgmt, {
      unit: { name: "setup", namespace: "default" },
      objects: objects as unknown as KubeObject[],
      prune: false,
      wait: false,
      timeoutMs: 30_000,
    });
    controller = new Controller({
      kubeconfig: harness.get("mgmt")!.kubeconfig,
      allowInsecureHttp: true,
      concurrency: 4,
    });
    await controller.start();
    await until(
      "the first release on every cluster",
      async () => (await Promise.all(CLUSTERS.map(applied))).every((r) => r === revisions[0]),
      180_000,
    );
  }, 300_000);

  afterAll(async () => {
    controller?.stop();
    mgmt?.close();
    await server?.stop();
    await harness?.stop();
    repo?.remove();
    if (kubeconfigDir) rmSync(kubeconfigDir, { recursive: true, force: true });
  });

  it("takes a good release to the canary, then the early wave, then the rest one at a time", async () => {
    const r2 = release("example.com/web:2");
    expect(await orderOf(r2)).toEqual({ order: ["prod-canary", "prod-a", "prod-b", "prod-c"], violations: [] });
    await until("the rollout to succeed", async () => (await rollout()).status?.phase === "Succeeded");
    const status = (await rollout()).status!;
    expect(status.stableRevision).toBe(r2);
    expect(status.waves!.map((w) => [w.name, `${w.updated}/${w.total}`, w.phase])).toEqual([
      ["canary", "1/1", "Succeeded"],
      ["early", "1/1", "Succeeded"],
      ["rest", "2/2", "Succeeded"],
    ]);
  }, 180_000);

  it("halts a crash-looping release at the canary; the other three keep the previous revision and stay Ready", async () => {
    const r2 = revisions.at(-1)!;
    const r3 = release("example.com/crashloop:3");
    const halted = await until(
      "the rollout to halt",
      async () => {
        const r = await rollout();
        return r.status?.phase === "Halted" && r;
      },
      120_000,
    );
    expect(halted.status!.halted).toMatch(/^cluster prod-canary, unit prod-canary\/apps: .*Deployment\/default\/web/);
    expect(halted.status!.conditions![0]).toMatchObject({ type: "Ready", status: "False", reason: "RolloutHalted" });
    for (const c of ["prod-a", "prod-b", "prod-c"]) {
      const u = await unitOf(c);
      expect(ready(u)?.status).toBe("True");
      expect(u.status?.lastAppliedRevision).toBe(r2);
      expect(u.status?.lastAttemptedRevision).toBe(r2);
      expect(await imageIn(c)).toBe("example.com/web:2");
    }
    expect((await unitOf("prod-canary")).status?.lastAttemptedRevision).toBe(r3);
    const shown = await cli("status");
    expect(shown.code).toBe(1);
    expect(shown.out).toContain("Rollout flux-system/prod: Halted");
    expect(shown.out).toMatch(/canary\s+0\/1\s+Failed\s+cluster prod-canary/);
    expect(shown.out).toMatch(/rest\s+0\/2\s+Pending/);
  }, 180_000);

  it("with onFailure: rollback, a retry that fails again puts the canary back on its last good revision and rejects the release", async () => {
    const r2 = revisions.at(-2)!;
    const r3 = revisions.at(-1)!;
    await patchRollout({ spec: { onFailure: "rollback" } });
    expect((await cli("retry")).code).toBe(0);
    const rolledBack = await until(
      "the rollback",
      async () => {
        const r = await rollout();
        return r.status?.phase === "RolledBack" && r;
      },
      120_000,
    );
    expect(rolledBack.status!.rejectedRevisions).toEqual([r3]);
    await until("the canary back on its last good revision", async () => (await applied("prod-canary")) === r2, 90_000);
    expect(await imageIn("prod-canary")).toBe("example.com/web:2");
  }, 240_000);

  it("starts nothing while paused, and rolls a newer release out on resume", async () => {
    expect((await cli("pause")).code).toBe(0);
    expect((await rollout()).spec.suspend).toBe(true);
    await until("the controller to see the pause", async () => {
      const r = await rollout();
      return r.status?.observedGeneration === r.metadata.generation;
    });
    const r4 = release("example.com/web:4");
    await until(
      "the rollout to adopt the release while paused",
      async () => {
        const r = await rollout();
        return r.status?.targetRevision === r4 && r.status.phase === "Paused";
      },
      60_000,
    );
    await controller.whenIdle(); // every reconcile the new revision queued has run
    for (const c of CLUSTERS) expect((await unitOf(c)).status?.lastAttemptedRevision).not.toBe(r4);
    expect((await cli("resume")).code).toBe(0);
    expect(await orderOf(r4)).toEqual({ order: ["prod-canary", "prod-a", "prod-b", "prod-c"], violations: [] });
  }, 240_000);

  it("holds a cluster outside its window while its wave-mates proceed; a break-glass opens it and is recorded", async () => {
    // A deny window that is always on, for prod-b only (maint=night).
    await patchRollout({
      spec: {
        windows: [
          { kind: "deny", schedule: "* * * * *", duration: "2m", clusters: { matchLabels: { maint: "night" } } },
        ],
      },
    });
    const r5 = release("example.com/web:5");
    await until(
      "the others at the new revision",
      async () =>
        (await applied("prod-canary")) === r5 && (await applied("prod-a")) === r5 && (await applied("prod-c")) === r5,
      120_000,
    );
    const held = await unitOf("prod-b");
    expect(held.status?.lastAttemptedRevision).not.toBe(r5);
    expect(ready(held)?.status).toBe("True");
    const rest = (await rollout()).status!.waves!.find((w) => w.name === "rest")!;
    expect(rest).toMatchObject({ total: 2, updated: 1, waitingForWindow: 1 });

    const until_ = new Date(Date.now() + 10 * 60_000).toISOString();
    await mgmt.request(
      "PATCH",
      "/apis/cluster.x-k8s.io/v1beta1/namespaces/prod-b/clusters/prod-b",
      { metadata: { annotations: { "flotilla.dev/break-glass-until": until_ } } },
      { contentType: "application/merge-patch+json" },
    );
    await until(
      "prod-b at the new revision after the break-glass",
      async () => (await applied("prod-b")) === r5,
      90_000,
    );
    const events = (
      await mgmt.request<{ items: Array<{ reason: string; message: string }> }>(
        "GET",
        "/api/v1/namespaces/flux-system/events",
      )
    ).body.items;
    expect(events.some((e) => e.reason === "BreakGlass" && e.message.includes("prod-b"))).toBe(true);
  }, 240_000);

  it("restarts from the first wave when a newer release arrives mid-rollout; the others go straight to the newest", async () => {
    const r5 = revisions.at(-1)!;
    await patchRollout({
      spec: {
        windows: null,
        waves: [
          { name: "canary", clusters: { matchLabels: { ring: "canary" } }, soak: "1h" },
          { name: "early", clusters: { matchLabels: { ring: "early" } } },
          { name: "rest", maxConcurrent: 1 },
        ],
      },
    });
    const r6 = release("example.com/web:6");
    await until("the canary at r6", async () => (await applied("prod-canary")) === r6, 90_000);
    const r7 = release("example.com/web:7");
    await until("the canary at r7", async () => (await applied("prod-canary")) === r7, 90_000);
    const status = (await rollout()).status!;
    expect(status.targetRevision).toBe(r7);
    expect(status.activeWave).toBe("canary");
    for (const c of ["prod-a", "prod-b", "prod-c"]) {
      const u = await unitOf(c);
      expect(u.status?.lastAppliedRevision).toBe(r5);
      expect([r6, r7]).not.toContain(u.status?.lastAttemptedRevision);
    }
  }, 240_000);

  it("waits at a manual wave until `flotilla rollout approve`, for the revision being rolled out", async () => {
    const r7 = revisions.at(-1)!;
    await patchRollout({
      spec: {
        waves: [
          { name: "canary", clusters: { matchLabels: { ring: "canary" } } },
          { name: "early", clusters: { matchLabels: { ring: "early" } }, approval: "manual" },
          { name: "rest", maxConcurrent: 1 },
        ],
      },
    });
    await until(
      "the early wave to wait for approval",
      async () => (await rollout()).status?.phase === "WaitingApproval",
      60_000,
    );
    await controller.whenIdle();
    expect((await unitOf("prod-a")).status?.lastAttemptedRevision).not.toBe(r7);
    const approved = await cli("approve");
    expect(approved).toMatchObject({ code: 0, out: `approved wave early for ${r7}\n` });
    expect((await rollout()).metadata.annotations?.["flotilla.dev/approve"]).toBe(`early@${r7}`);
    await until(
      "every cluster at r7",
      async () => (await Promise.all(CLUSTERS.map(applied))).every((r) => r === r7),
      120_000,
    );
    expect((await cli("status")).code).toBe(0);
  }, 240_000);
});
