import { createHash } from "node:crypto";
import type { Logger } from "pino";
import { parseDuration } from "../core/duration.js";
import { describeError } from "../core/errors.js";
import { redact } from "../core/redact.js";
import {
  dependencyKey,
  kubeconfigOfSecret,
  referenceKey,
  type Condition,
  type Kustomization,
  type KustomizationSpec,
} from "../core/flux.js";
import { fluxBuildSpecOf } from "../render/index.js";
import { objectKey, type KubeObject } from "../core/object.js";
import { Reason, isReady, readyCondition, setReady } from "../status/conditions.js";
import type { Metrics } from "../status/metrics.js";
import { withJitter, type Clock } from "./clock.js";
import { inputDigest, outputDigest, readSetDigest, type FullReconciles, type InputParts } from "./inputs.js";
import {
  ApplyFailure,
  HealthCheckFailure,
  type ApplyOutcome,
  type FluxRenderSpec,
  type ManagementCluster,
  type RecordedRender,
  type RenderPort,
  type SourceArtifact,
  type TargetCluster,
} from "./ports.js";
import { RenderCache } from "./render-cache.js";

/** Flux's multi-tenancy lockdown flags (`--default-service-account`, `--no-cross-namespace-refs`). */
export interface TenancyOptions {
  /** The service account, in each unit's own namespace, that units naming none act as. */
  defaultServiceAccount?: string;
  /** Refuse a `sourceRef` or `dependsOn` in another namespace (Ready=False, AccessDenied). */
  noCrossNamespaceRefs?: boolean;
}

/** What the reconciler reads from the controller's caches. */
export interface KustomizationContext {
  mgmt: ManagementCluster;
  render: RenderPort;
  renderCache: RenderCache<RecordedRender>;
  /** Each unit's last full reconcile in this process (its read set, when drift correction is due). */
  fullReconciles: FullReconciles;
  /** The stored artifact of a GitRepository (`namespace/name`), if any. */
  artifact(sourceKey: string): SourceArtifact | undefined;
  /** Whether a GitRepository (`namespace/name`) exists at all. */
  sourceExists(sourceKey: string): boolean;
  /** The current Kustomization `namespace/name`, if any. */
  kustomization(key: string): Kustomization | undefined;
  /**
   * The cluster of a kubeconfig (the management cluster when undefined), reached as `identity`
   * (a user name to impersonate) or, without one, as the controller itself; cached by content.
   */
  target(kubeconfig: string | undefined, identity?: string): TargetCluster;
  tenancy?: TenancyOptions;
  clock: Clock;
  logger: Logger;
  metrics?: Metrics;
}

export interface ReconcileOutcome {
  /** When to reconcile again, in milliseconds; undefined: only on a change. */
  requeueAfterMs?: number;
  ready: Condition["status"];
}

type StatusFields = Partial<NonNullable<Kustomization["status"]>>;

/** A step that stops the reconcile: the Ready=False it writes, and when to try again. */
interface Failure {
  failed: true;
  reason: string;
  message: string;
  /** Milliseconds until the next try (before jitter); `never`: only when the object changes (Flux's stalled); default: retryInterval. */
  requeue?: number | "never";
  /** Expected while a fleet starts (a dependency, a cluster, a first artifact): logged at info. */
  waiting?: boolean;
  /** Also a Warning event. */
  event?: boolean;
  /** Only a wait on a healthy unit: nothing is written (status says Ready at its revision), it is logged at debug. */
  quiet?: boolean;
  status?: StatusFields;
}

type Step<T> = T | Failure;

const isFailure = <T>(step: Step<T>): step is Failure =>
  typeof step === "object" && step !== null && (step as Failure).failed === true;

function failure(reason: string, message: string, more: Omit<Failure, "failed" | "reason" | "message"> = {}): Failure {
  return {
    failed: true,
    reason,
    message,
    waiting: reason === Reason.DependencyNotReady || reason === Reason.ClusterNotReady,
    ...more,
  };
}

interface Timing {
  intervalMs: number;
  retryIntervalMs: number;
  timeoutMs: number;
}

/** One reconcile's fixed facts: its logger, start time and timing. */
interface Run {
  k: Kustomization;
  ctx: KustomizationContext;
  log: Logger;
  started: number;
  timing: Timing;
  /** Values substituted from `postBuild.substituteFrom` Secrets: hidden in failure messages (the apiserver echoes invalid values). */
  secretValues: string[];
}

const DEFAULT_TIMEOUT_MS = 5 * 60_000;

/** The `namespace/name` of a Kustomization's source. */
export function sourceKeyOf(k: Kustomization): string {
  return referenceKey(k, k.spec.sourceRef);
}

/**
 * The user a unit acts as, as Flux's impersonator names it: its `spec.serviceAccountName`, else
 * the controller's `--default-service-account`, as `system:serviceaccount:<namespace>:<name>`;
 * undefined (the controller itself) when neither is set.
 */
export function identityOf(k: Kustomization, tenancy: TenancyOptions | undefined): string | undefined {
  const name = k.spec.serviceAccountName || tenancy?.defaultServiceAccount;
  return name ? `system:serviceaccount:${k.metadata.namespace}:${name}` : undefined;
}

/**
 * Reconciles one Kustomization as Flux's kustomize-controller does, in named steps: its source's
 * artifact, its dependencies, its target cluster and identity, the build (shared through the render
 * cache), then apply with prune and health, and status with `Ready`, revisions and inventory. A
 * step that fails leaves the cluster at its last applied state and says why in `Ready`.
 */
export async function reconcileKustomization(k: Kustomization, ctx: KustomizationContext): Promise<ReconcileOutcome> {
  const started = ctx.clock.now();
  const timing = parseTiming(k);
  if (isFailure(timing)) {
    await setStatus(k, ctx, { ready: "False", reason: timing.reason, message: timing.message });
    return { ready: "False" };
  }
  if (k.spec.suspend) return { ready: readyCondition(k.status?.conditions)?.status ?? "Unknown" };
  const log = ctx.logger.child({
    unit: objectKey(k),
    cluster: k.spec.kubeConfig?.secretRef.name.replace(/-kubeconfig$/, "") ?? "mgmt",
  });
  const run: Run = { k, ctx, log, started, timing, secretValues: [] };
  const result = await reconcileSteps(run);
  const outcome = isFailure(result)
    ? await reportFailure(run, result)
    : { requeueAfterMs: result.requeueAfterMs, ready: "True" as const };
  ctx.metrics?.reconcileDuration.observe(
    { kind: "Kustomization", name: k.metadata.name, namespace: k.metadata.namespace },
    (ctx.clock.now() - started) / 1000,
  );
  return outcome;
}

/** A successful reconcile: when to run again (drift correction at the unit's interval). */
interface Done {
  requeueAfterMs: number;
}

async function reconcileSteps(run: Run): Promise<Step<Done>> {
  const { k, ctx } = run;
  const artifact = resolveSource(k, ctx);
  if (isFailure(artifact)) return artifact;
  const attempted: StatusFields = { lastAttemptedRevision: artifact.revision };
  const dependencies = checkDependencies(k, ctx, run.timing);
  if (isFailure(dependencies)) return { ...dependencies, status: attempted };
  const target = await resolveTarget(k, ctx);
  if (isFailure(target)) return { ...target, status: attempted };
  const spec = await buildSpec(k, ctx, run.secretValues);
  if (isFailure(spec)) return { ...spec, status: attempted };
  const parts = (readSet: string): InputParts => ({
    spec: k.spec,
    identity: identityOf(k, ctx.tenancy),
    kubeconfig: target.kubeconfig,
    substitute: spec.substitute,
    readSet,
  });
  const unchanged = await recordIfUnchanged(run, artifact, parts);
  if (unchanged) return unchanged;
  // Remembered again only once this full reconcile succeeds: a failed render or apply is never skipped past.
  ctx.fullReconciles.forget(objectKey(k));
  const rendered = await build(k, ctx, artifact, spec);
  if (isFailure(rendered)) return { ...rendered, status: attempted };
  const inputs = {
    revision: artifact.revision,
    digest: inputDigest(parts(readSetDigest(artifact.tree, rendered.reads))),
    outputDigest: outputDigest(rendered.objects),
  };
  const applied = await applyAndReport(run, target.cluster, rendered.objects, artifact.revision, inputs);
  if (isFailure(applied)) return applied;
  const requeueAfterMs = withJitter(run.timing.intervalMs);
  ctx.fullReconciles.set(objectKey(k), { reads: rendered.reads, dueAt: ctx.clock.now() + requeueAfterMs });
  return { requeueAfterMs };
}

/**
 * A unit whose inputs did not change since its last full reconcile in this process (remembered
 * only when it succeeded; a wait for a dependency or a cluster since does not count, as it touched
 * nothing), and whose drift correction is not yet due: records the new revision (status only)
 * without rendering or contacting its cluster. Undefined when a full reconcile is needed.
 */
async function recordIfUnchanged(
  run: Run,
  artifact: SourceArtifact,
  parts: (readSet: string) => InputParts,
): Promise<Done | undefined> {
  const { k, ctx } = run;
  const last = ctx.fullReconciles.get(objectKey(k));
  const inputs = k.status?.inputs;
  const now = ctx.clock.now();
  if (!last || !inputs || now >= last.dueAt || !sameSpecApplied(k)) return undefined;
  if (inputDigest(parts(readSetDigest(artifact.tree, last.reads))) !== inputs.digest) return undefined;
  const revision = artifact.revision;
  if (revision !== inputs.revision || k.status?.lastAppliedRevision !== revision) {
    await setStatus(k, ctx, {
      ready: "True",
      reason: Reason.ReconciliationSucceeded,
      message: `Applied revision: ${revision}`,
      lastAppliedRevision: revision,
      lastAttemptedRevision: revision,
      inputs: { ...inputs, revision },
    });
    run.log
      .child({ revision })
      .info({ ms: now - run.started }, "inputs unchanged: revision recorded, cluster not contacted");
  }
  ctx.metrics?.unitReconciles.add({ outcome: "unchanged" }, 1);
  return { requeueAfterMs: last.dueAt - now };
}

/** Status says the inputs' revision was applied (not, say, a status another writer left), and the spec is the one reconciled. */
function sameSpecApplied(k: Kustomization): boolean {
  const generation = typeof k.metadata.generation === "number" ? k.metadata.generation : undefined;
  return (
    (generation === undefined || k.status?.observedGeneration === generation) &&
    k.status?.lastAppliedRevision !== undefined &&
    k.status.lastAppliedRevision === k.status.inputs?.revision
  );
}

function parseTiming(k: Kustomization): Step<Timing> {
  const where = { object: `Kustomization/${objectKey(k)}` };
  try {
    const intervalMs = parseDuration(k.spec.interval ?? "10m", { ...where, field: "spec.interval" });
    const retryIntervalMs = k.spec.retryInterval
      ? parseDuration(k.spec.retryInterval, { ...where, field: "spec.retryInterval" })
      : intervalMs;
    const timeoutMs = k.spec.timeout
      ? parseDuration(k.spec.timeout, { ...where, field: "spec.timeout" })
      : DEFAULT_TIMEOUT_MS;
    return { intervalMs, retryIntervalMs, timeoutMs };
  } catch (error) {
    return failure(Reason.ReconciliationFailed, describeError(error));
  }
}

/** The source's artifact: refused across namespaces under `--no-cross-namespace-refs`, as Flux's getSource. */
function resolveSource(k: Kustomization, ctx: KustomizationContext): Step<SourceArtifact> {
  const sourceKey = sourceKeyOf(k);
  const ref = `${k.spec.sourceRef.kind}/${sourceKey}`;
  if (
    ctx.tenancy?.noCrossNamespaceRefs &&
    (k.spec.sourceRef.namespace ?? k.metadata.namespace) !== k.metadata.namespace
  ) {
    return failure(
      Reason.AccessDenied,
      `can't access '${ref}', cross-namespace references have been blocked (spec.sourceRef.namespace)`,
      {
        requeue: "never",
        event: true,
      },
    );
  }
  if (k.spec.sourceRef.kind !== "GitRepository") {
    return failure(
      Reason.ArtifactFailed,
      `source kind '${k.spec.sourceRef.kind}' is not supported; use GitRepository (spec.sourceRef.kind)`,
    );
  }
  const artifact = ctx.artifact(sourceKey);
  if (artifact) return artifact;
  const exists = ctx.sourceExists(sourceKey);
  return failure(
    Reason.ArtifactFailed,
    `Source '${ref}' ${exists ? "has no artifact yet" : "does not exist"} (spec.sourceRef)`,
    {
      waiting: exists,
    },
  );
}

/** Every `dependsOn` unit Ready at its source's revision, with no cycle; refused across namespaces under `--no-cross-namespace-refs`. */
function checkDependencies(k: Kustomization, ctx: KustomizationContext, timing: Timing): Step<void> {
  const deps = (k.spec.dependsOn ?? []).map((d) => ({
    key: dependencyKey(k, d),
    namespace: d.namespace ?? k.metadata.namespace,
  }));
  const crossing = ctx.tenancy?.noCrossNamespaceRefs
    ? deps.find((d) => d.namespace !== k.metadata.namespace)
    : undefined;
  if (crossing)
    return failure(
      Reason.AccessDenied,
      `can't access 'Kustomization/${crossing.key}', cross-namespace references have been blocked (spec.dependsOn)`,
      { requeue: "never", event: true },
    );
  const cycle = dependencyCycle(k, ctx.kustomization);
  if (cycle) return failure(Reason.DependencyNotReady, `dependency cycle: ${cycle.join(" → ")} (spec.dependsOn)`);
  const sourceKey = sourceKeyOf(k);
  for (const { key } of deps) {
    const d = ctx.kustomization(key);
    if (!d) return failure(Reason.DependencyNotReady, `dependency '${key}' not found (spec.dependsOn)`);
    const upToDate =
      sourceKeyOf(d) !== sourceKey || d.status?.lastAppliedRevision === ctx.artifact(sourceKeyOf(d))?.revision;
    if (!isReady(d) || !upToDate)
      return failure(Reason.DependencyNotReady, `dependency '${key}' is not ready`, {
        requeue: Math.min(timing.retryIntervalMs, 5_000),
        // Both Ready, the dependency not yet at the new revision: the unit stays Ready at its own
        // revision while it waits (it is requeued when the dependency gets there), instead of a
        // status write and a flip to Ready=False for every dependent on every commit.
        quiet: isReady(k) && isReady(d),
      });
  }
  return undefined;
}

/** The cluster to apply to (its kubeconfig Secret, in the unit's namespace) and the identity to act as there. */
async function resolveTarget(
  k: Kustomization,
  ctx: KustomizationContext,
): Promise<Step<{ cluster: TargetCluster; kubeconfig: string | undefined }>> {
  const serviceAccount = k.spec.serviceAccountName;
  if (serviceAccount !== undefined && !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(serviceAccount)) {
    return failure(
      Reason.ReconciliationFailed,
      `spec.serviceAccountName '${serviceAccount}' is not a valid ServiceAccount name (lowercase letters, digits, '-' and '.')`,
    );
  }
  if (!k.spec.kubeConfig) return { cluster: ctx.target(undefined, identityOf(k, ctx.tenancy)), kubeconfig: undefined };
  const ref = k.spec.kubeConfig.secretRef;
  const secret = await ctx.mgmt.getSecret(k.metadata.namespace, ref.name);
  if (!secret)
    return failure(
      Reason.ClusterNotReady,
      `kubeconfig Secret '${k.metadata.namespace}/${ref.name}' not found: waiting for the cluster`,
      {
        requeue: 30_000,
      },
    );
  const kubeconfig = kubeconfigOfSecret(ref, secret);
  if (!kubeconfig) {
    const keys = ref.key ? `'${ref.key}'` : "'value' or 'value.yaml'";
    return failure(
      Reason.ClusterNotReady,
      `kubeconfig Secret '${k.metadata.namespace}/${ref.name}' has no key ${keys} (spec.kubeConfig.secretRef)`,
    );
  }
  return { cluster: ctx.target(kubeconfig, identityOf(k, ctx.tenancy)), kubeconfig };
}

/** The render options of the unit's spec, with the substitutions of `postBuild` (reading its `substituteFrom` sources). */
async function buildSpec(
  k: Kustomization,
  ctx: KustomizationContext,
  secretValues: string[],
): Promise<Step<FluxRenderSpec>> {
  try {
    return await renderSpec(k, ctx, secretValues);
  } catch (error) {
    return failure(Reason.BuildFailed, describeError(error));
  }
}

/** The unit's render (shared through the render cache) with its read set; SOPS-encrypted Secrets refused. */
async function build(
  k: Kustomization,
  ctx: KustomizationContext,
  artifact: SourceArtifact,
  spec: FluxRenderSpec,
): Promise<Step<RecordedRender>> {
  let rendered: RecordedRender;
  const started = ctx.clock.now();
  try {
    const key = RenderCache.key(artifact.revision, k.spec.path ?? "", spec);
    rendered = await ctx.renderCache.get(key, artifact.revision, () =>
      ctx.render(artifact.tree, normalizePath(k.spec.path), spec),
    );
  } catch (error) {
    return failure(Reason.BuildFailed, describeError(error));
  } finally {
    ctx.metrics?.stepSeconds.add({ step: "render" }, (ctx.clock.now() - started) / 1000);
  }
  const { objects } = rendered;
  const encrypted = k.spec.decryption
    ? objects.find((o) => o.kind === "Secret" && typeof o.sops === "object")
    : undefined;
  if (encrypted) {
    return failure(
      Reason.BuildFailed,
      `Secret/${encrypted.metadata.namespace ?? ""}/${encrypted.metadata.name ?? ""} is SOPS-encrypted and Flotilla cannot decrypt it (spec.decryption)`,
    );
  }
  return rendered;
}

/** Applies, prunes and waits; on success writes Ready=True with the new inventory and an event naming the changes. */
async function applyAndReport(
  run: Run,
  target: TargetCluster,
  objects: KubeObject[],
  revision: string,
  inputs: NonNullable<StatusFields["inputs"]>,
): Promise<Step<void>> {
  const { k, ctx, timing } = run;
  const previousInventory = k.status?.inventory?.entries ?? [];
  let outcome: ApplyOutcome;
  const started = ctx.clock.now();
  try {
    outcome = await target.apply({
      unit: { namespace: k.metadata.namespace, name: k.metadata.name },
      objects,
      previousInventory,
      prune: k.spec.prune,
      wait: k.spec.wait ?? false,
      force: k.spec.force ?? false,
      healthChecks: k.spec.healthChecks,
      timeoutMs: timing.timeoutMs,
      // Objects about to be created go into status.inventory first: a controller killed before the
      // status write below would otherwise forget them, and never prune them once they leave git.
      recordIntent: async (entries) => {
        const status = { ...k.status, inventory: { entries } };
        const writing = ctx.clock.now();
        await ctx.mgmt.patchKustomizationStatus(k, status);
        ctx.metrics?.stepSeconds.add({ step: "status" }, (ctx.clock.now() - writing) / 1000);
        k.status = status;
      },
      // Not Ready while health checks wait, and the message says for what (an object that never appears included).
      onHealthPending: (waiting) =>
        setStatus(k, ctx, {
          ready: "Unknown",
          reason: Reason.Progressing,
          message: `running health checks for revision ${revision} with a timeout of ${formatDuration(timing.timeoutMs)}: ${waiting}`,
          lastAttemptedRevision: revision,
        }),
    });
  } catch (error) {
    const inventory =
      error instanceof ApplyFailure || error instanceof HealthCheckFailure
        ? error.inventory
        : (k.status?.inventory?.entries ?? previousInventory);
    const reason = error instanceof HealthCheckFailure ? Reason.HealthCheckFailed : Reason.ReconciliationFailed;
    return failure(reason, redact(describeError(error), run.secretValues), {
      event: true,
      waiting: false,
      status: { lastAttemptedRevision: revision, inventory: { entries: inventory } },
    });
  } finally {
    ctx.metrics?.stepSeconds.add({ step: "apply" }, (ctx.clock.now() - started) / 1000);
  }
  ctx.metrics?.unitReconciles.add({ outcome: "applied" }, 1);
  const message = `Applied revision: ${revision}`;
  await setStatus(k, ctx, {
    ready: "True",
    reason: Reason.ReconciliationSucceeded,
    message,
    lastAppliedRevision: revision,
    lastAttemptedRevision: revision,
    inventory: { entries: outcome.inventory },
    inputs,
  });
  if (outcome.summary)
    await ctx.mgmt
      .event(k, "Normal", Reason.ReconciliationSucceeded, `${outcome.summary}\n${message}`)
      .catch(() => undefined);
  run.log
    .child({ revision })
    .info({ changes: outcome.summary || "none", ms: ctx.clock.now() - run.started }, "applied");
  return undefined;
}

/** Writes a failed step's Ready=False (and event), logs it, and says when to try again. */
async function reportFailure(run: Run, f: Failure): Promise<ReconcileOutcome> {
  const { k, ctx } = run;
  if (f.quiet) {
    run.log.debug({ reason: f.reason }, f.message);
    // Not "True": this reconcile did not finish, so it does not requeue the unit's dependents.
    return {
      requeueAfterMs: withJitter(typeof f.requeue === "number" ? f.requeue : run.timing.retryIntervalMs),
      ready: "Unknown",
    };
  }
  (f.waiting ? run.log.info.bind(run.log) : run.log.warn.bind(run.log))({ reason: f.reason }, f.message);
  if (f.event) await ctx.mgmt.event(k, "Warning", f.reason, f.message).catch(() => undefined);
  await setStatus(k, ctx, { ready: "False", reason: f.reason, message: f.message, ...f.status });
  const requeue = f.requeue ?? run.timing.retryIntervalMs;
  return requeue === "never" ? { ready: "False" } : { requeueAfterMs: withJitter(requeue), ready: "False" };
}

/** `5m0s`, `1m30s`, `45s`: Go's duration format, as Flux writes timeouts in messages. */
function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${h > 0 ? `${h}h` : ""}${m}m${s % 60}s`;
}

/** The path `k → … → k` when following `dependsOn` from `k` leads back to it (breadth-first, so the shortest cycle is named). */
export function dependencyCycle(
  k: Kustomization,
  lookup: (key: string) => Kustomization | undefined,
): string[] | undefined {
  const start = objectKey(k);
  const depsOf = (u: Kustomization) => (u.spec.dependsOn ?? []).map((d) => dependencyKey(u, d));
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
  return (path ?? "")
    .replace(/^\.?\/+/, "")
    .replace(/^\.$/, "")
    .replace(/\/+$/, "");
}

async function renderSpec(
  k: Kustomization,
  ctx: KustomizationContext,
  secretValues: string[],
): Promise<FluxRenderSpec> {
  const s = k.spec;
  const spec: FluxRenderSpec = fluxBuildSpecOf({ ...s, postBuild: undefined } as KustomizationSpec);
  if (s.postBuild) {
    const vars: Record<string, string> = {};
    for (const ref of s.postBuild.substituteFrom ?? []) {
      const data =
        ref.kind === "Secret"
          ? await ctx.mgmt.getSecret(k.metadata.namespace, ref.name)
          : await ctx.mgmt.getConfigMap(k.metadata.namespace, ref.name);
      if (!data) {
        if (ref.optional) continue;
        throw new Error(
          `substitution source ${ref.kind} '${k.metadata.namespace}/${ref.name}' not found (spec.postBuild.substituteFrom)`,
        );
      }
      if (ref.kind === "Secret") secretValues.push(...Object.values(data));
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
    conditions: setReady(k.status?.conditions, ready, reason, message, generation, new Date(ctx.clock.now())),
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
  ctx.metrics?.recordReady("Kustomization", k.metadata.namespace, k.metadata.name, ready);
  if (JSON.stringify(status) === JSON.stringify(k.status)) return;
  const writing = ctx.clock.now();
  await ctx.mgmt.patchKustomizationStatus(k, status);
  ctx.metrics?.stepSeconds.add({ step: "status" }, (ctx.clock.now() - writing) / 1000);
  k.status = status;
}

/** A digest of a kubeconfig, to cache one target client per cluster without keeping the secret as a key. */
export function kubeconfigDigest(kubeconfig: string): string {
  return createHash("sha256").update(kubeconfig).digest("hex");
}
