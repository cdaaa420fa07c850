import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterClient } from "../../src/core/kube/index.js";
import type { Controller } from "../../src/controller/controller.js";
import { readSetDigest } from "../../src/controller/inputs.js";
import { MemoryTree, RecordingTree } from "../../src/core/file-tree.js";
import type { Kustomization } from "../../src/core/flux.js";
import { renderFlux } from "../../src/render/index.js";
import { startControllerTestbed, type ControllerTestbed } from "../support/controller-testbed.js";
import { ManualClock } from "../support/manual-clock.js";
import { Scrape } from "../support/metrics-text.js";
import { until } from "../support/until.js";

describe("a render's read set", () => {
  const files: Array<[string, string]> = [
    ["apps/kustomization.yaml", "resources: [cm.yaml, ../base]\n"],
    ["apps/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"],
    ["base/kustomization.yaml", "resources: [cm.yaml]\n"],
    ["base/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: base}\n"],
    ["other/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\n"],
  ];
  const tree = (changes: Record<string, string> = {}) =>
    new MemoryTree("repo@x", [
      ...files.map(([p, c]): [string, string] => [p, changes[p] ?? c]),
      ...Object.entries(changes).filter(([p]) => !files.some(([f]) => f === p)),
    ]);
  const recorded = () => {
    const t = new RecordingTree(tree());
    renderFlux(t, "apps", {});
    return t.reads();
  };

  it("holds the files and folders the render opened, and nothing else", () => {
    const reads = recorded();
    expect(reads).toContain("read:apps/cm.yaml");
    expect(reads).toContain("read:base/cm.yaml");
    expect(reads).toContain("read:base/kustomization.yaml");
    expect(reads.some((r) => r.includes("other"))).toBe(false);
  });

  it("digests the same on a revision that changed only files it did not read, and differently otherwise", () => {
    const reads = recorded();
    const before = readSetDigest(tree(), reads);
    expect(readSetDigest(tree({ "other/cm.yaml": "changed" }), reads)).toBe(before);
    expect(readSetDigest(tree({ "docs/new.md": "hello" }), reads)).toBe(before);
    expect(
      readSetDigest(tree({ "base/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: based}\n" }), reads),
    ).not.toBe(before);
    // A file appearing where the render looked (another kustomization file name) changes what it would read.
    expect(readSetDigest(tree({ "apps/Kustomization": "resources: []\n" }), reads)).not.toBe(before);
  });
});

/**
 * Reconcile only what changed, on real apiservers: unit `a` renders apps/a onto w1, unit `b`
 * renders apps/b onto w2 with a substituteFrom Secret. The controller's clock is moved by hand, so
 * drift correction runs when its interval elapses and not before; what is proven is counted:
 * requests to each workload cluster (its client's counters) and the controller's reconcile outcomes.
 */
describe("units whose inputs did not change record a new revision without contacting their cluster", () => {
  let bed: ControllerTestbed;
  let mgmt: ClusterClient;
  let controller: Controller;
  const clock = new ManualClock(Date.now());
  const kubeconfig = (c: string) => bed.harness.get(c)!.kubeconfig;
  const requests = (ctl: Controller, c: string) =>
    Object.values(ctl.workloadRequests(kubeconfig(c)) ?? {}).reduce((a, b) => a + b, 0);
  const unit = async (name: string) =>
    (
      await mgmt.request<Kustomization>(
        "GET",
        `/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/${name}`,
      )
    ).body;
  const atRevision = async (sha: string) => {
    for (const name of ["a", "b"]) {
      const u = await unit(name);
      const ready = u.status?.conditions?.find((c) => c.type === "Ready");
      if (u.status?.lastAppliedRevision !== `main@sha1:${sha}` || ready?.status !== "True") return false;
    }
    return true;
  };
  const configMap = async (c: string, name: string) => {
    const client = ClusterClient.fromKubeconfig(kubeconfig(c));
    try {
      return (
        await client.request<{ data: Record<string, string> }>("GET", `/api/v1/namespaces/default/configmaps/${name}`)
      ).body.data;
    } finally {
      client.close();
    }
  };
  const outcomes = (ctl: Controller) => ({
    applied: ctl.metrics.unitReconciles.get({ outcome: "applied" }) ?? 0,
    unchanged: ctl.metrics.unitReconciles.get({ outcome: "unchanged" }) ?? 0,
  });
  /** A request counter of /metrics (flotilla_kube_requests_total), summed over verbs when none is named. */
  const scraped = (ctl: Controller, target: "management" | "workload", verb?: string) =>
    new Scrape(ctl.metrics.render()).sum("flotilla_kube_requests_total", { target, ...(verb ? { verb } : {}) });
  /** Commits `files`, polls the source, and waits until both units report the commit and the queue is idle. */
  const commit = async (ctl: Controller, message: string, files: Record<string, string>) => {
    const sha = bed.repo.commit(message, files);
    bed.repo.push();
    ctl.requestPoll("flux-system/apps");
    await until(`both units at ${sha}`, () => atRevision(sha));
    await ctl.whenIdle();
    return sha;
  };

  beforeAll(async () => {
    bed = await startControllerTestbed({
      message: "feat: apps",
      workloads: ["w1", "w2"],
      files: {
        "apps/a/cm.yaml":
          "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: default}\ndata: {colour: blue}\n",
        "apps/b/cm.yaml":
          "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: default}\ndata: {size: '${size}'}\n",
        "docs/notes.md": "nobody renders this\n",
      },
    });
    mgmt = bed.mgmt;
    const unitOf = (name: string, cluster: string, more: object = {}) => ({
      apiVersion: "kustomize.toolkit.fluxcd.io/v1",
      kind: "Kustomization",
      metadata: { name, namespace: "flux-system" },
      spec: {
        interval: "5m",
        path: `./apps/${name}`,
        prune: true,
        sourceRef: { kind: "GitRepository", name: "apps" },
        kubeConfig: { secretRef: { name: `${cluster}-kubeconfig` } },
        ...more,
      },
    });
    await bed.apply([
      ...bed.fluxSource("apps"),
      ...["w1", "w2"].map((c) => ({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: `${c}-kubeconfig`, namespace: "flux-system" },
        stringData: { value: kubeconfig(c) },
      })),
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "b-vars", namespace: "flux-system" },
        stringData: { size: "small" },
      },
      unitOf("a", "w1"),
      unitOf("b", "w2", { postBuild: { substituteFrom: [{ kind: "Secret", name: "b-vars" }] } }),
    ]);
    controller = await bed.startController({ clock });
    await until("the first rollout", () => atRevision(bed.firstCommit));
    await controller.whenIdle();
  }, 180_000);
  afterAll(async () => {
    await bed?.stop();
  });

  it("records its inputs in status, as digests that hold no Secret value", async () => {
    const b = await unit("b");
    expect(b.status?.inputs).toEqual({
      revision: `main@sha1:${bed.firstCommit}`,
      digest: expect.stringMatching(/^[0-9a-f]{64}$/) as unknown,
      outputDigest: expect.stringMatching(/^[0-9a-f]{64}$/) as unknown,
    });
    expect(JSON.stringify(b.status)).not.toContain("small");
    expect(await configMap("w2", "b")).toEqual({ size: "small" });
    expect(outcomes(controller).applied).toBe(2);
  });

  it("keeps its cache of units without managedFields, which the apiserver's objects carry", async () => {
    expect((await unit("a")).metadata.managedFields).toBeDefined();
    expect(controller.kustomizationList().map((k) => k.metadata.managedFields)).toEqual([undefined, undefined]);
  });

  it("a commit touching a file no unit reads: no request to either cluster, both record the new revision", async () => {
    const before = { w1: requests(controller, "w1"), w2: requests(controller, "w2"), ...outcomes(controller) };
    const metricsBefore = {
      workload: scraped(controller, "workload"),
      patches: scraped(controller, "management", "patch"),
    };
    const sha = await commit(controller, "docs: notes", { "docs/notes.md": "still nobody renders this\n" });
    expect({ w1: requests(controller, "w1"), w2: requests(controller, "w2") }).toEqual({
      w1: before.w1,
      w2: before.w2,
    });
    // /metrics says the same: no request to a workload cluster; the status writes went to the management cluster.
    expect(scraped(controller, "workload")).toBe(metricsBefore.workload);
    expect(metricsBefore.workload).toBe(before.w1 + before.w2);
    expect(scraped(controller, "management", "patch")).toBeGreaterThanOrEqual(metricsBefore.patches + 2);
    expect(outcomes(controller)).toEqual({ applied: before.applied, unchanged: before.unchanged + 2 });
    const a = await unit("a");
    expect(a.status?.conditions?.find((c) => c.type === "Ready")?.message).toBe(`Applied revision: main@sha1:${sha}`);
    expect(a.status?.inputs?.revision).toBe(`main@sha1:${sha}`);
  });

  it("a commit touching a file a unit reads re-applies that unit only", async () => {
    const before = { w1: requests(controller, "w1"), w2: requests(controller, "w2"), ...outcomes(controller) };
    const digest = (await unit("a")).status?.inputs?.digest;
    await commit(controller, "feat: green a", {
      "apps/a/cm.yaml":
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: default}\ndata: {colour: green}\n",
    });
    expect(requests(controller, "w1")).toBeGreaterThan(before.w1);
    expect(requests(controller, "w2")).toBe(before.w2);
    expect(outcomes(controller)).toEqual({ applied: before.applied + 1, unchanged: before.unchanged + 1 });
    expect(await configMap("w1", "a")).toEqual({ colour: "green" });
    expect((await unit("a")).status?.inputs?.digest).not.toBe(digest);
  });

  it("a changed substituteFrom Secret re-applies the unit that reads it", async () => {
    const before = { w1: requests(controller, "w1"), w2: requests(controller, "w2"), ...outcomes(controller) };
    const triggered = controller.triggeredBy("Secret substituteFrom", "flux-system/b");
    await mgmt.request(
      "PATCH",
      "/api/v1/namespaces/flux-system/secrets/b-vars",
      { stringData: { size: "large" } },
      { contentType: "application/merge-patch+json" },
    );
    await until("the new size on w2", async () => (await configMap("w2", "b")).size === "large");
    await controller.whenIdle();
    expect(controller.triggeredBy("Secret substituteFrom", "flux-system/b")).toBeGreaterThan(triggered);
    expect(requests(controller, "w2")).toBeGreaterThan(before.w2);
    expect(requests(controller, "w1")).toBe(before.w1);
    expect(outcomes(controller).applied).toBe(before.applied + 1);
    expect(JSON.stringify((await unit("b")).status)).not.toContain("large");
  });

  it("drift is corrected once the interval has elapsed since the last full apply, not before", async () => {
    const w1 = ClusterClient.fromKubeconfig(kubeconfig("w1"));
    try {
      await w1.request(
        "PATCH",
        "/api/v1/namespaces/default/configmaps/a",
        { data: { colour: "drifted" } },
        { contentType: "application/merge-patch+json" },
      );
    } finally {
      w1.close();
    }
    // A new revision with unchanged inputs does not look at the cluster: the drift stays.
    const before = requests(controller, "w1");
    await commit(controller, "docs: more notes", { "docs/notes.md": "more notes\n" });
    expect(requests(controller, "w1")).toBe(before);
    expect(await configMap("w1", "a")).toEqual({ colour: "drifted" });
    // The interval (5m, jitter ±10%) elapses on the controller's clock: the full apply corrects it.
    const applied = outcomes(controller).applied;
    clock.advance(6 * 60_000);
    await until("the drift corrected", async () => (await configMap("w1", "a")).colour === "green");
    await controller.whenIdle();
    expect(requests(controller, "w1")).toBeGreaterThan(before);
    expect(outcomes(controller).applied).toBeGreaterThanOrEqual(applied + 2);
  });

  it("a fresh controller does a full check of every unit once, then skips unchanged units again", async () => {
    controller.stop();
    const fresh = await bed.startController({ clock: new ManualClock(Date.now()) });
    await until("the fresh controller's full check", async () => outcomes(fresh).applied === 2);
    await fresh.whenIdle();
    expect(requests(fresh, "w1")).toBeGreaterThan(0);
    expect(requests(fresh, "w2")).toBeGreaterThan(0);
    const before = { w1: requests(fresh, "w1"), w2: requests(fresh, "w2") };
    await commit(fresh, "docs: after restart", { "docs/notes.md": "after a restart\n" });
    expect({ w1: requests(fresh, "w1"), w2: requests(fresh, "w2") }).toEqual(before);
    expect(outcomes(fresh).applied).toBe(2);
    fresh.stop();
  });
});
