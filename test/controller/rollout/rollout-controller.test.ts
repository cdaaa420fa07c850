import { describe, expect, it } from "vitest";
import type { Kustomization } from "../../../src/core/flux.js";
import type { KubeObject } from "../../../src/core/object.js";
import { RolloutController, type RevisionGateResult } from "../../../src/controller/rollout/index.js";
import type { SourceArtifact } from "../../../src/controller/ports.js";
import { MemoryTree } from "../../../src/core/file-tree.js";
import type { RolloutObject, RolloutStatus } from "../../../src/rollout/index.js";
import { silentLogger } from "../../../src/core/log.js";
import { ManualClock } from "../../support/manual-clock.js";

const S = "v1.0.0@sha1:1111111111111111111111111111111111111111";
const A = "v1.1.0@sha1:2222222222222222222222222222222222222222";
const artifact = (revision: string): SourceArtifact => ({ revision, tree: new MemoryTree(revision, []) });
const flush = () => new Promise((r) => setImmediate(r));

function unit(cluster: string, name: string, revision: string): Kustomization {
  return {
    apiVersion: "kustomize.toolkit.fluxcd.io/v1",
    kind: "Kustomization",
    metadata: { name, namespace: cluster, generation: 1 },
    spec: {
      interval: "10m",
      path: "./x",
      prune: true,
      sourceRef: { kind: "GitRepository", name: "release", namespace: "flux-system" },
      kubeConfig: { secretRef: { name: `${cluster}-kubeconfig` } },
    },
    status: {
      observedGeneration: 1,
      lastAppliedRevision: revision,
      lastAttemptedRevision: revision,
      conditions: [
        {
          type: "Ready",
          status: "True",
          reason: "ReconciliationSucceeded",
          message: `Applied revision: ${revision}`,
          lastTransitionTime: "2026-01-01T00:00:00Z",
        },
      ],
    },
  } as Kustomization;
}

const report = (k: Kustomization, revision: string, ok: boolean, message = "") => {
  k.status = {
    ...k.status,
    lastAttemptedRevision: revision,
    ...(ok ? { lastAppliedRevision: revision } : {}),
    conditions: [
      {
        type: "Ready",
        status: ok ? "True" : "False",
        reason: ok ? "ReconciliationSucceeded" : "HealthCheckFailed",
        message: ok ? `Applied revision: ${revision}` : message,
        lastTransitionTime: "2026-01-01T00:00:00Z",
      },
    ],
  };
};

function setup() {
  const clock = new ManualClock(Date.parse("2026-04-07T09:00:00Z"));
  const clusters = ["prod-canary", "prod-a", "prod-b", "prod-c"];
  const units = clusters.map((c) => unit(c, "apps", S));
  const newest = new Map<string, SourceArtifact>();
  const statuses: RolloutStatus[] = [];
  const events: Array<{ reason: string; message: string }> = [];
  const requeued: string[] = [];
  const rollouts = new RolloutController({
    kustomizations: () => units.values(),
    newest: (key) => newest.get(key),
    artifactAt: async (_key, revision) => (revision === S ? artifact(S) : undefined),
    requeue: (k) => requeued.push(k.metadata.namespace),
    patchStatus: async (_r, s) => void statuses.push(s),
    event: async (_o, _t, reason, message) => void events.push({ reason, message }),
    clock,
    logger: silentLogger,
  });
  for (const c of clusters)
    rollouts.onCluster("ADDED", {
      apiVersion: "cluster.x-k8s.io/v1beta1",
      kind: "Cluster",
      metadata: { name: c, namespace: c, labels: c === "prod-canary" ? { ring: "canary" } : {} },
    } as KubeObject);
  const rollout: RolloutObject = {
    apiVersion: "flotilla.dev/v1alpha1",
    kind: "Rollout",
    metadata: { name: "prod", namespace: "flux-system", generation: 1 },
    spec: {
      sourceRef: { name: "release" },
      onFailure: "halt",
      waves: [
        { name: "canary", clusters: { matchLabels: { ring: "canary" } }, soak: "10m" },
        { name: "rest", maxConcurrent: 1 },
      ],
    },
  };
  const release = (revision: string) => {
    const a = artifact(revision);
    newest.set("flux-system/release", a);
    rollouts.onArtifact("flux-system/release", a);
    return a;
  };
  release(S);
  rollouts.onRollout("ADDED", rollout);
  const gate = (cluster: string): RevisionGateResult | undefined =>
    rollouts.gate(
      units.find((u) => u.metadata.namespace === cluster)!,
      newest.get("flux-system/release")!,
    );
  const revisionOf = (cluster: string) => {
    const g = gate(cluster);
    return g && "artifact" in g ? g.artifact.revision : g;
  };
  return {
    clock,
    units,
    statuses,
    events,
    requeued,
    rollouts,
    rollout,
    release,
    gate,
    revisionOf,
    unitOf: (c: string) => units.find((u) => u.metadata.namespace === c)!,
  };
}

describe("the rollout controller (in memory, on the ManualClock)", () => {
  it("gives the canary the new revision and the others their previous artifact, then the rest after the soak", async () => {
    const f = setup();
    await flush();
    f.release(A);
    await flush();
    expect(["prod-canary", "prod-a", "prod-b", "prod-c"].map(f.revisionOf)).toEqual([A, S, S, S]);
    expect(f.requeued).toContain("prod-canary");
    expect(f.events.map((e) => e.reason)).toEqual(expect.arrayContaining(["RolloutStarted", "WaveStarted"]));
    report(f.unitOf("prod-canary"), A, true);
    f.rollouts.onUnit(f.unitOf("prod-canary"));
    await flush();
    expect(f.statuses.at(-1)).toMatchObject({ phase: "Soaking", targetRevision: A, activeWave: "canary" });
    f.clock.advance(10 * 60_000); // the soak timer fires on the controller's clock
    expect(["prod-a", "prod-b", "prod-c"].map(f.revisionOf)).toEqual([A, S, S]);
    await flush(); // the status write
    expect(f.statuses.at(-1)!.waves![1]).toMatchObject({
      name: "rest",
      total: 3,
      progressing: 1,
      phase: "Progressing",
    });
  });

  it("halts on a health check failure at the canary, naming the object, and keeps the rest on their revision", async () => {
    const f = setup();
    await flush();
    f.release(A);
    await flush();
    report(f.unitOf("prod-canary"), A, false, "health check failed after 5m0s: Deployment/web/web: CrashLoopBackOff");
    f.rollouts.onUnit(f.unitOf("prod-canary"));
    await flush();
    expect(f.statuses.at(-1)).toMatchObject({
      phase: "Halted",
      halted:
        "cluster prod-canary, unit prod-canary/apps: health check failed after 5m0s: Deployment/web/web: CrashLoopBackOff",
    });
    expect(f.statuses.at(-1)!.conditions![0]).toMatchObject({
      type: "Ready",
      status: "False",
      reason: "RolloutHalted",
    });
    f.clock.advance(60 * 60_000);
    expect(["prod-a", "prod-b", "prod-c"].map(f.revisionOf)).toEqual([S, S, S]);
  });

  it("records a break-glass annotation as an event, once", async () => {
    const f = setup();
    await flush();
    const until = new Date(f.clock.now() + 3_600_000).toISOString();
    const cluster = {
      apiVersion: "cluster.x-k8s.io/v1beta1",
      kind: "Cluster",
      metadata: { name: "prod-a", namespace: "prod-a", annotations: { "flotilla.dev/break-glass-until": until } },
    } as KubeObject;
    f.rollouts.onCluster("MODIFIED", cluster);
    await flush();
    f.rollouts.onCluster("MODIFIED", cluster);
    await flush();
    expect(f.events.filter((e) => e.reason === "BreakGlass").map((e) => e.message)).toEqual([
      `break-glass on cluster prod-a: its maintenance windows are open until ${until.replace("Z", "").replace(/\.\d{3}$/, "")}.000Z`,
    ]);
  });

  it("holds the units of an invalid Rollout with the error, naming the field", async () => {
    const f = setup();
    f.rollouts.onRollout("MODIFIED", {
      ...f.rollout,
      spec: { ...f.rollout.spec, windows: [{ schedule: "0 22 * * *", duration: "4h", timeZone: "Europe/Berlinn" }] },
    });
    await flush();
    expect(f.gate("prod-a")).toMatchObject({
      hold: expect.stringMatching(
        /^Rollout flux-system\/prod is invalid: Rollout\/flux-system\/prod: spec\.windows\[0\]\.timeZone: 'Europe\/Berlinn' is not an IANA time zone/,
      ),
    });
  });

  it("leaves units of other sources to their newest revision", () => {
    const f = setup();
    const other = {
      ...unit("dev-1", "apps", S),
      spec: {
        ...unit("dev-1", "apps", S).spec,
        sourceRef: { kind: "GitRepository", name: "main", namespace: "flux-system" },
      },
    } as Kustomization;
    expect(f.rollouts.gate(other, artifact(A))).toBeUndefined();
  });
});

describe("a restarted rollout controller", () => {
  it("reads a pinned revision it no longer holds back from the git cache, then gives it to the units", async () => {
    const clock = new ManualClock(Date.parse("2026-04-07T09:00:00Z"));
    const units = [unit("prod-canary", "apps", A), unit("prod-a", "apps", S)];
    const requeued: string[] = [];
    const read: string[] = [];
    const rollouts = new RolloutController({
      kustomizations: () => units.values(),
      newest: () => artifact(A),
      artifactAt: async (_key, revision) => (read.push(revision), revision === S ? artifact(S) : undefined),
      requeue: (k) => requeued.push(k.metadata.namespace),
      patchStatus: async () => undefined,
      event: async () => undefined,
      clock,
      logger: silentLogger,
    });
    rollouts.onCluster("ADDED", {
      apiVersion: "cluster.x-k8s.io/v1beta1",
      kind: "Cluster",
      metadata: { name: "prod-canary", namespace: "prod-canary", labels: { ring: "canary" } },
    } as KubeObject);
    // The status the previous process wrote: A is being rolled out, the canary wave is soaking.
    rollouts.onRollout("ADDED", {
      apiVersion: "flotilla.dev/v1alpha1",
      kind: "Rollout",
      metadata: { name: "prod", namespace: "flux-system" },
      spec: {
        sourceRef: { name: "release" },
        waves: [{ name: "canary", clusters: { matchLabels: { ring: "canary" } }, soak: "1h" }, { name: "rest" }],
      },
      status: {
        targetRevision: A,
        stableRevision: S,
        waveIndex: 0,
        waveStarted: true,
        soakStartedAt: "2026-04-07T08:30:00Z",
      },
    });
    await flush();
    const prodA = units[1]!;
    expect(rollouts.gate(prodA, artifact(A))).toMatchObject({
      hold: expect.stringContaining(
        `revision ${S} (pinned by Rollout flux-system/prod) is being read from the git cache`,
      ),
    });
    await flush();
    expect(read).toEqual([S]);
    expect(requeued).toContain("prod-a");
    const g = rollouts.gate(prodA, artifact(A));
    expect(g && "artifact" in g && g.artifact.revision).toBe(S);
  });
});
