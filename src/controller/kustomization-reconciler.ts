import { createHash } from "node:crypto";
import type { Logger } from "pino";
import { parseDuration } from "../core/duration.js";
import { describeError } from "../core/errors.js";
import type { Condition, Kustomization, KustomizationSpec } from "../core/flux.js";
import { fluxBuildSpecOf } from "../render/index.js";
import type { KubeObject } from "../core/object.js";
import { Reason, isReady, readyCondition, setCondition } from "../status/conditions.js";
import type { Metrics } from "../status/metrics.js";
import { withJitter, type Clock } from "./clock.js";
import { ApplyFailure, HealthCheckFailure, type FluxRenderSpec, type ManagementCluster, type RenderPort, type SourceArtifact, type TargetCluster } from "./ports.js";
import { RenderCache } from "./render-cache.js";

/** What the reconciler reads from the controller's caches. */
export interface KustomizationContext {
  mgmt: ManagementCluster;
  render: RenderPort;
  renderCache: RenderCache<KubeObject[]>;
  /** The stored artifact of a GitRepository (`namespace/name`), if any. */
  artifact(sourceKey: string): SourceArtifact | undefined;
  /** Whether a GitRepository (`namespace/name`) exists at all. */
  sourceExists(sourceKey: string): boolean;
  /** The current Kustomization `namespace/name`, if any. */
  kustomization(key: string): Kustomization | undefined;
  /** The cluster of a kubeconfig (the management cluster when undefined); cached by content. */
  target(kubeconfig: string | undefined): TargetCluster;
  clock: Clock;
  logger: Logger;
  metrics?: Metrics;
}

export interface ReconcileOutcome {
  /** When to reconcile again, in milliseconds; undefined: only on a change. */
  requeueAfterMs?: number;
  ready: Condition["status"];
}

const DEFAULT_TIMEOUT_MS = 5 * 60_000;
export const keyOf = (o: { metadata: { namespace?: string; name?: string } }) => `${o.metadata.namespace ?? ""}/${o.metadata.name ?? ""}`;

/** The `namespace/name` of a Kustomization's source. */
export function sourceKeyOf(k: Kustomization): string {
  return `${k.spec.sourceRef.namespace ?? k.metadata.namespace}/${k.spec.sourceRef.name}`;
}

/**
 * Reconciles one Kustomization as Flux's kustomize-controller does: its source's artifact, its
 * dependencies, its target cluster, render (shared through the render cache), apply with prune and
 * health, and status with `Ready`, revisions and inventory. A failure at any step leaves the
 * cluster at its last applied state and says why in `Ready`.
 */
export async function reconcileKustomization(k: Kustomization, ctx: KustomizationContext): Promise<ReconcileOutcome> {
  const started = ctx.clock.now();
  const log = ctx.logger.child({ unit: keyOf(k), cluster: k.spec.kubeConfig?.secretRef.name.replace(/-kubeconfig$/, "") ?? "mgmt" });
  const where = { object: `Kustomization/${keyOf(k)}` };
  let interval: number;
  let retryInterval: number;
  let timeoutMs: number;
  try {
    interval = parseDuration(k.spec.interval ?? "10m", { ...where, field: "spec.interval" });
    retryInterval = k.spec.retryInterval ? parseDuration(k.spec.retryInterval, { ...where, field: "spec.retryInterval" }) : interval;
    timeoutMs = k.spec.timeout ? parseDuration(k.spec.timeout, { ...where, field: "spec.timeout" }) : DEFAULT_TIMEOUT_MS;
  } catch (error) {
    await setStatus(k, ctx, { ready: "False", reason: Reason.ReconciliationFailed, message: describeError(error) });
    return { ready: "False" };
  }
  if (k.spec.suspend) return { ready: readyCondition(k.status?.conditions)?.status ?? "Unknown" };

  const fail = async (reason: string, message: string, extra: Partial<NonNullable<Kustomization["status"]>> = {}, requeue = retryInterval, waiting = reason === Reason.DependencyNotReady || reason === Reason.ClusterNotReady) => {
    // Waiting for a dependency, a cluster or a first artifact is expected while a fleet starts.
    (waiting ? log.info.bind(log) : log.warn.bind(log))({ reason }, message);
    await setStatus(k, ctx, { ready: "False", reason, message, ...extra });
    ctx.metrics?.reconcileDuration.observe({ kind: "Kustomization", name: k.metadata.name, namespace: k.metadata.namespace }, (ctx.clock.now() - started) / 1000);
    return { requeueAfterMs: withJitter(requeue), ready: "False" as const };
  };

  const sourceKey = sourceKeyOf(k);
  if (k.spec.sourceRef.kind !== "GitRepository") {
    return fail(Reason.ArtifactFailed, `source kind '${k.spec.sourceRef.kind}' is not supported; use GitRepository (spec.sourceRef.kind)`);
  }
  const artifact = ctx.artifact(sourceKey);
  if (!artifact) {
    const exists = ctx.sourceExists(sourceKey);
    return fail(Reason.ArtifactFailed, `Source 'GitRepository/${sourceKey}' ${exists ? "has no artifact yet" : "does not exist"} (spec.sourceRef)`, {}, retryInterval, exists);
  }
  const revision = artifact.revision;
  const logRev = log.child({ revision });

  const cycle = dependencyCycle(k, ctx.kustomization);
  if (cycle) return fail(Reason.DependencyNotReady, `dependency cycle: ${cycle.join(" → ")} (spec.dependsOn)`, { lastAttemptedRevision: revision });
  for (const dep of k.spec.dependsOn ?? []) {
    const depKey = `${dep.namespace ?? k.metadata.namespace}/${dep.name}`;
    const d = ctx.kustomization(depKey);
    if (!d) return fail(Reason.DependencyNotReady, `dependency '${depKey}' not found (spec.dependsOn)`, { lastAttemptedRevision: revision });
    const depArtifact = ctx.artifact(sourceKeyOf(d));
    const upToDate = sourceKeyOf(d) !== sourceKey || d.status?.lastAppliedRevision === depArtifact?.revision;
    if (!isReady(d) || !upToDate) {
      return fail(Reason.DependencyNotReady, `dependency '${depKey}' is not ready`, { lastAttemptedRevision: revision }, Math.min(retryInterval, 5_000));
    }
  }

  let kubeconfig: string | undefined;
  if (k.spec.kubeConfig) {
    const ref = k.spec.kubeConfig.secretRef;
    const secret = await ctx.mgmt.getSecret(k.metadata.namespace, ref.name);
    if (!secret) {
      return fail(Reason.ClusterNotReady, `kubeconfig Secret '${k.metadata.namespace}/${ref.name}' not found: waiting for the cluster`, { lastAttemptedRevision: revision }, 30_000);
    }
    kubeconfig = ref.key ? secret[ref.key] : (secret.value ?? secret["value.yaml"]);
    if (!kubeconfig) {
      const keys = ref.key ? `'${ref.key}'` : "'value' or 'value.yaml'";
      return fail(Reason.ClusterNotReady, `kubeconfig Secret '${k.metadata.namespace}/${ref.name}' has no key ${keys} (spec.kubeConfig.secretRef)`, { lastAttemptedRevision: revision });
    }
  }

  let objects: KubeObject[];
  try {
    const spec = await renderSpec(k, ctx);
    const key = RenderCache.key(revision, k.spec.path ?? "", spec);
    objects = await ctx.renderCache.get(key, revision, () => ctx.render(artifact.tree, normalizePath(k.spec.path), spec));
  } catch (error) {
    return fail(Reason.BuildFailed, describeError(error), { lastAttemptedRevision: revision });
  }
  if (k.spec.decryption) {
    const encrypted = objects.find((o) => o.kind === "Secret" && typeof o.sops === "object");
    if (encrypted) {
      return fail(Reason.BuildFailed, `Secret/${encrypted.metadata.namespace ?? ""}/${encrypted.metadata.name ?? ""} is SOPS-encrypted and Flotilla cannot decrypt it (spec.decryption)`, { lastAttemptedRevision: revision });
    }
  }

  const previousInventory = k.status?.inventory?.entries ?? [];
  try {
    const outcome = await ctx.target(kubeconfig).apply({
      unit: { namespace: k.metadata.namespace, name: k.metadata.name },
      objects,
      previousInventory,
      prune: k.spec.prune,
      wait: k.spec.wait ?? false,
      force: k.spec.force ?? false,
      healthChecks: k.spec.healthChecks,
      timeoutMs,
      // Objects about to be created go into status.inventory first: a controller killed before the
      // status write below would otherwise forget them, and never prune them once they leave git.
      recordIntent: async (entries) => {
        const status = { ...k.status, inventory: { entries } };
        await ctx.mgmt.patchKustomizationStatus(k, status);
        k.status = status;
      },
    });
    const message = `Applied revision: ${revision}`;
    await setStatus(k, ctx, {
      ready: "True",
      reason: Reason.ReconciliationSucceeded,
      message,
      lastAppliedRevision: revision,
      lastAttemptedRevision: revision,
      inventory: { entries: outcome.inventory },
    });
    if (outcome.summary) await ctx.mgmt.event(k, "Normal", Reason.ReconciliationSucceeded, `${outcome.summary}\n${message}`).catch(() => undefined);
    logRev.info({ changes: outcome.summary || "none", ms: ctx.clock.now() - started }, "applied");
    ctx.metrics?.reconcileDuration.observe({ kind: "Kustomization", name: k.metadata.name, namespace: k.metadata.namespace }, (ctx.clock.now() - started) / 1000);
    return { requeueAfterMs: withJitter(interval), ready: "True" };
  } catch (error) {
    const inventory = error instanceof ApplyFailure || error instanceof HealthCheckFailure ? error.inventory : (k.status?.inventory?.entries ?? previousInventory);
    const reason = error instanceof HealthCheckFailure ? Reason.HealthCheckFailed : Reason.ReconciliationFailed;
    await ctx.mgmt.event(k, "Warning", reason, describeError(error)).catch(() => undefined);
    return fail(reason, describeError(error), { lastAttemptedRevision: revision, inventory: { entries: inventory } });
  }
}

/** The path `k → … → k` when following `dependsOn` from `k` leads back to it (breadth-first, so the shortest cycle is named). */
export function dependencyCycle(k: Kustomization, lookup: (key: string) => Kustomization | undefined): string[] | undefined {
  const start = keyOf(k);
  const depsOf = (u: Kustomization) => (u.spec.dependsOn ?? []).map((d) => `${d.namespace ?? u.metadata.namespace}/${d.name}`);
  const seen = new Set<string>();
  let frontier: string[][] = [[start]];
  while (frontier.length > 0) {
    const next: string[][] = [];
    for (const path of frontier) {
      const last = path[path.length - 1]!;
      const unit = last === start ? k : lookup(last);
      if (!unit) continue;
      for (const dep of depsOf(unit)) {
        if (dep === start) return [...path, start];
        if (seen.has(dep)) continue;
        seen.add(dep);
        next.push([...path, dep]);
      }
    }
    frontier = next;
  }
  return undefined;
}

/** A Flux path (`./features/x`, `/features/x`, empty) as a tree path (`features/x`, ``). */
export function normalizePath(path: string | undefined): string {
  return (path ?? "").replace(/^\.?\/+/, "").replace(/^\.$/, "").replace(/\/+$/, "");
}

async function renderSpec(k: Kustomization, ctx: KustomizationContext): Promise<FluxRenderSpec> {
  const s = k.spec;
  const spec: FluxRenderSpec = fluxBuildSpecOf({ ...s, postBuild: undefined } as KustomizationSpec);
  if (s.postBuild) {
    const vars: Record<string, string> = {};
    for (const ref of s.postBuild.substituteFrom ?? []) {
      const data = ref.kind === "Secret" ? await ctx.mgmt.getSecret(k.metadata.namespace, ref.name) : await ctx.mgmt.getConfigMap(k.metadata.namespace, ref.name);
      if (!data) {
        if (ref.optional) continue;
        throw new Error(`substitution source ${ref.kind} '${k.metadata.namespace}/${ref.name}' not found (spec.postBuild.substituteFrom)`);
      }
      Object.assign(vars, data);
    }
    Object.assign(vars, s.postBuild.substitute ?? {});
    spec.substitute = vars;
  }
  return spec;
}

async function setStatus(
  k: Kustomization,
  ctx: KustomizationContext,
  next: { ready: Condition["status"]; reason: string; message: string } & Partial<NonNullable<Kustomization["status"]>>,
): Promise<void> {
  const { ready, reason, message, ...rest } = next;
  const generation = typeof k.metadata.generation === "number" ? k.metadata.generation : undefined;
  const status: NonNullable<Kustomization["status"]> = {
    ...k.status,
    ...rest,
    conditions: setCondition(k.status?.conditions, { type: "Ready", status: ready, reason, message, ...(generation !== undefined ? { observedGeneration: generation } : {}) }, new Date(ctx.clock.now())),
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
  ctx.metrics?.recordReady("Kustomization", k.metadata.namespace, k.metadata.name, ready);
  if (JSON.stringify(status) === JSON.stringify(k.status)) return;
  await ctx.mgmt.patchKustomizationStatus(k, status);
  k.status = status;
}

/** A digest of a kubeconfig, to cache one target client per cluster without keeping the secret as a key. */
export function kubeconfigDigest(kubeconfig: string): string {
  return createHash("sha256").update(kubeconfig).digest("hex");
}
