import { RolloutController } from "../../src/controller/rollout/index.js";
import { systemClock } from "../../src/controller/clock.js";
import type { SourceArtifact } from "../../src/controller/ports.js";
import { MemoryTree } from "../../src/core/file-tree.js";
import type { Kustomization } from "../../src/core/flux.js";
import { silentLogger } from "../../src/core/log.js";
import type { KubeObject } from "../../src/core/object.js";
import type { RolloutObject, RolloutStatus } from "../../src/rollout/index.js";
import { printJson, printTable } from "./report.js";

const UNITS_PER_CLUSTER = 5;
const OLD = `v1.0.0@sha1:${"1".repeat(40)}`;
const NEW = `v1.1.0@sha1:${"2".repeat(40)}`;
/** Goals per pass at 1,000 clusters × 5 units: a pass is the controller's whole reaction to a change. */
const GOAL_MS_AT_1000 = 500;
const GOAL_STATUS_BYTES = 4096;

const artifact = (revision: string): SourceArtifact => ({ revision, tree: new MemoryTree(revision, []) });

/**
 * One rollout pass (observe every unit, step the waves, pin every cluster, build status) of a new
 * revision over 100, 1,000 and 5,000 clusters of 5 units with two maintenance windows, through the
 * controller's RolloutController (in memory: no apiserver is involved in a pass). Verifies that every
 * cluster got a pin, that the waves count every cluster once, and that status stays the same small
 * size whatever the fleet's size.
 */
export async function run(): Promise<void> {
  const rows = [];
  let failures = 0;
  for (const clusters of [100, 1000, 5000]) {
    const r = await pass(clusters);
    const counted = r.status.waves!.reduce((n, w) => n + w.total, 0);
    const ok = r.pins === clusters && counted === clusters && r.canaryPinned === 10;
    const met = r.ms <= (GOAL_MS_AT_1000 * clusters) / 1000 && r.statusBytes <= GOAL_STATUS_BYTES;
    if (!ok || !met) failures++;
    rows.push({
      clusters,
      units: clusters * UNITS_PER_CLUSTER,
      "pass ms": Math.round(r.ms),
      "status bytes": r.statusBytes,
      pinned: r.pins,
      "output ok": ok,
      goal: `${Math.round((GOAL_MS_AT_1000 * clusters) / 1000)} ms, ${GOAL_STATUS_BYTES} B`,
      met,
    });
    printJson("rollout", {
      clusters,
      units: clusters * UNITS_PER_CLUSTER,
      passMs: Math.round(r.ms),
      statusBytes: r.statusBytes,
      outputOk: ok,
      goalMet: met,
    });
  }
  printTable("rollout pass: a new revision over the fleet (canary of 10, then 10% at a time; two windows)", rows);
  if (failures > 0) throw new Error(`rollout bench: ${failures} size(s) with wrong output or a missed goal`);
}

async function pass(
  clusters: number,
): Promise<{ ms: number; pins: number; canaryPinned: number; status: RolloutStatus; statusBytes: number }> {
  const units: Kustomization[] = [];
  const clusterObjects: KubeObject[] = [];
  for (let i = 0; i < clusters; i++) {
    const name = `prod-${String(i).padStart(5, "0")}`;
    clusterObjects.push({
      apiVersion: "cluster.x-k8s.io/v1beta1",
      kind: "Cluster",
      metadata: { name, namespace: name, labels: { env: "prod", ring: i < 10 ? "canary" : "main" } },
    });
    for (let u = 0; u < UNITS_PER_CLUSTER; u++) {
      units.push({
        apiVersion: "kustomize.toolkit.fluxcd.io/v1",
        kind: "Kustomization",
        metadata: { name: `unit-${u}`, namespace: name, generation: 1 },
        spec: {
          interval: "10m",
          prune: true,
          timeout: "5m",
          sourceRef: { kind: "GitRepository", name: "release", namespace: "flux-system" },
          kubeConfig: { secretRef: { name: `${name}-kubeconfig` } },
        },
        status: {
          observedGeneration: 1,
          lastAppliedRevision: OLD,
          lastAttemptedRevision: OLD,
          conditions: [
            {
              type: "Ready",
              status: "True",
              reason: "ReconciliationSucceeded",
              message: `Applied revision: ${OLD}`,
              lastTransitionTime: "2026-01-01T00:00:00Z",
            },
          ],
        },
      } as Kustomization);
    }
  }
  let newest = artifact(OLD);
  let status: RolloutStatus = {};
  const rollouts = new RolloutController({
    kustomizations: () => units.values(),
    newest: () => newest,
    artifactAt: async () => undefined,
    requeue: () => undefined,
    patchStatus: async (_r, s) => void (status = s),
    event: async () => undefined,
    clock: systemClock,
    logger: silentLogger,
  });
  for (const c of clusterObjects) rollouts.onCluster("ADDED", c);
  const rollout: RolloutObject = {
    apiVersion: "flotilla.dev/v1alpha1",
    kind: "Rollout",
    metadata: { name: "prod", namespace: "flux-system", generation: 1 },
    spec: {
      sourceRef: { name: "release" },
      waves: [
        { name: "canary", clusters: { matchLabels: { ring: "canary" } }, soak: "10m" },
        { name: "rest", maxConcurrent: "10%" },
      ],
      windows: [
        {
          kind: "allow",
          schedule: "0 0 * * *",
          duration: "25h",
          timeZone: "Europe/Berlin",
          clusters: { matchLabels: { env: "prod" } },
        },
        { kind: "deny", schedule: "0 0 29 2 *", duration: "24h" },
      ],
    },
  };
  rollouts.onArtifact("flux-system/release", newest);
  rollouts.onRollout("ADDED", rollout);
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  newest = artifact(NEW);
  const t = process.hrtime.bigint();
  rollouts.onArtifact("flux-system/release", newest);
  await new Promise((r) => setImmediate(r));
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  await new Promise((r) => setImmediate(r));
  let pins = 0;
  let canaryPinned = 0;
  for (const k of units) {
    if (k.metadata.name !== "unit-0") continue;
    const g = rollouts.gate(k, newest);
    if (g && "artifact" in g) pins++;
    if (g && "artifact" in g && g.artifact.revision === NEW) canaryPinned++;
  }
  return { ms, pins, canaryPinned, status, statusBytes: JSON.stringify(status).length };
}
