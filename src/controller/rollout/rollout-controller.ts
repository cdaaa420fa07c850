import type { Logger } from "pino";
import { parseDuration } from "../../core/duration.js";
import { describeError } from "../../core/errors.js";
import { clusterOfUnit, referenceKey, type Kustomization } from "../../core/flux.js";
import type { KubeObject } from "../../core/object.js";
import {
  breakGlassOf,
  controlOf,
  rolloutSpecOf,
  stateOf,
  statusOf,
  stepRollout,
  unitGate,
  windowState,
  windowsOf,
  assignWaves,
  type ClusterObservation,
  type RolloutDecision,
  type RolloutObject,
  type RolloutSpec,
  type RolloutState,
  type RolloutStatus,
  type UnitObservation,
  type WindowSpec,
  type WindowState,
  type ClusterSelector,
  matchesSelector,
} from "../../rollout/index.js";
import { Reason, isReady, readyCondition, setCondition } from "../../status/conditions.js";
import type { Clock } from "../clock.js";
import type { SourceArtifact } from "../ports.js";

const DEFAULT_TIMEOUT_MS = 5 * 60_000;
/** Ready=False reasons that mean the unit failed at its revision (not: waits for something). */
const FAILURES = new Set<string>([
  Reason.HealthCheckFailed,
  Reason.ReconciliationFailed,
  Reason.BuildFailed,
  Reason.PruneFailed,
]);

/** What the reconciler asks: which artifact a unit applies now, and whether it may prune; or why it waits. */
export type RevisionGateResult =
  { artifact: SourceArtifact; prune: boolean; note?: string } | { hold: string; requeueAfterMs: number };

const sourceKeyOfUnit = (k: Kustomization) => referenceKey(k, k.spec.sourceRef);

/** Whether a unit is one of a rollout's: its source, a workload cluster, and the rollout's selector. */
function isMember(t: Pick<Tracked, "sourceKey" | "selector">, k: Kustomization): boolean {
  return (
    !!k.spec.kubeConfig &&
    sourceKeyOfUnit(k) === t.sourceKey &&
    (t.selector === undefined || matchesSelector(t.selector, k.metadata.labels ?? {}))
  );
}

/** The controller's side of a Rollout: its caches, and the writes a pass makes. */
export interface RolloutHost {
  kustomizations(): Iterable<Kustomization>;
  newest(sourceKey: string): SourceArtifact | undefined;
  /** An earlier revision's artifact from the git cache (no network), after a restart emptied memory. */
  artifactAt(sourceKey: string, revision: string): Promise<SourceArtifact | undefined>;
  requeue(k: Kustomization): void;
  /** `r` carries the status it had, `status` is the whole new one. */
  patchStatus(r: RolloutObject, status: RolloutStatus): Promise<void>;
  event(regarding: KubeObject, type: "Normal" | "Warning", reason: string, message: string): Promise<void>;
  clock: Clock;
  logger: Logger;
}

interface Tracked {
  object: RolloutObject;
  spec?: RolloutSpec;
  windows: WindowSpec[];
  sourceKey?: string;
  /** Over the units' labels; unset: every unit of the source that targets a workload cluster. */
  selector?: ClusterSelector;
  error?: string;
  state: RolloutState;
  decision?: RolloutDecision;
  waveOf: Map<string, string>;
  timer?: unknown;
}

/**
 * Runs each environment's Rollout on the controller's clock: steps it (src/rollout) whenever a
 * unit, a Cluster, the Rollout or its source changes, writes its status, requeues the units whose
 * pinned revision moved, and answers the reconciler's RevisionGate. Keeps the artifact of every
 * revision some cluster is pinned to, so units not yet reached keep rendering their revision.
 */
export class RolloutController {
  private readonly rollouts = new Map<string, Tracked>();
  private readonly clusters = new Map<string, KubeObject>();
  private readonly artifacts = new Map<string, SourceArtifact>();
  private readonly breakGlassSeen = new Set<string>();
  private writing = Promise.resolve();
  private readonly pending = new Set<string>();
  /** Window states by a rollout's windows (replaced with its spec), then by set of windows and break-glass. */
  private readonly windowStates = new WeakMap<
    WindowSpec[],
    Map<string, { state: WindowState; fromMs: number; untilMs: number }>
  >();
  /** Pinned revisions being read back from the git cache (`source\0revision`). */
  private readonly reading = new Set<string>();

  constructor(private readonly host: RolloutHost) {}

  /** Every Rollout with the status this controller last wrote. */
  list(): RolloutObject[] {
    return [...this.rollouts.values()].map((t) => t.object);
  }

  onRollout(type: "ADDED" | "MODIFIED" | "DELETED", r: RolloutObject): void {
    const key = `${r.metadata.namespace}/${r.metadata.name}`;
    const before = this.rollouts.get(key);
    if (before?.timer !== undefined) this.host.clock.clearTimeout(before.timer);
    if (type === "DELETED") {
      this.rollouts.delete(key);
      this.requeueUnitsOf(before?.sourceKey);
      return;
    }
    // The in-memory state and pins stay: the watch also brings back this controller's own status writes.
    const t: Tracked = {
      object: r,
      windows: [],
      state: before?.state ?? stateOf(r.status),
      waveOf: before?.waveOf ?? new Map(),
      ...(before?.decision ? { decision: before.decision } : {}),
    };
    try {
      const parsed = rolloutSpecOf(r);
      Object.assign(t, parsed);
    } catch (error) {
      t.error = describeError(error);
      // Its units are held with the error rather than left to roll out all at once.
      const ref = r.spec?.sourceRef;
      if (ref?.name) t.sourceKey = `${ref.namespace ?? r.metadata.namespace}/${ref.name}`;
    }
    this.rollouts.set(key, t);
    this.stepSoon(key);
  }

  onCluster(type: "ADDED" | "MODIFIED" | "DELETED", c: KubeObject): void {
    const name = c.metadata.name ?? "";
    if (type === "DELETED") this.clusters.delete(name);
    else this.clusters.set(name, c);
    for (const [key, t] of this.rollouts) if (t.waveOf.has(name) || type === "ADDED") this.stepSoon(key);
  }

  /** A unit's status or spec changed. */
  onUnit(k: Kustomization): void {
    for (const [key, t] of this.rollouts) if (isMember(t, k)) this.stepSoon(key);
  }

  /** A source stored an artifact: kept by revision while a pin may name it. */
  onArtifact(sourceKey: string, artifact: SourceArtifact): void {
    this.artifacts.set(`${sourceKey}\u0000${artifact.revision}`, artifact);
    for (const [key, t] of this.rollouts) if (t.sourceKey === sourceKey) this.stepSoon(key);
  }

  /** Steps once for any number of changes that arrive together (a wave's units report in bursts). */
  private stepSoon(key: string): void {
    if (this.pending.has(key)) return;
    this.pending.add(key);
    setImmediate(() => {
      this.pending.delete(key);
      this.step(key);
    });
  }

  /** The rollout of a unit's source, if any (only units that target a workload cluster are in one). */
  private rolloutOf(k: Kustomization): [string, Tracked] | undefined {
    for (const entry of this.rollouts) if (isMember(entry[1], k)) return entry;
    return undefined;
  }

  /** The RevisionGate: undefined when no rollout covers the unit (it follows its source's newest revision, as in Flux). */
  gate(k: Kustomization, newest: SourceArtifact): RevisionGateResult | undefined {
    const found = this.rolloutOf(k);
    if (!found) return undefined;
    const [key, t] = found;
    if (t.error) return { hold: `Rollout ${key} is invalid: ${t.error}`, requeueAfterMs: 60_000 };
    const cluster = clusterOfUnit(k);
    if (!t.decision?.pins.has(cluster)) this.step(key);
    const pin = t.decision?.pins.get(cluster);
    const now = this.host.clock.now();
    const c = this.clusters.get(cluster);
    const window = this.windowOf(t, c, now);
    const timeoutMs = timeoutOf(k);
    const g = unitGate({
      pin,
      waitingFor: `wave ${t.waveOf.get(cluster) ?? "?"} of Rollout ${key}`,
      lastAppliedRevision: k.status?.lastAppliedRevision,
      window,
      timeoutMs,
      nowMs: now,
    });
    const later = (at: number | undefined) => Math.max(1_000, (at ?? now + 60_000) - now);
    if (!g.apply) return { hold: g.reason, requeueAfterMs: later(g.recheckAtMs) };
    const artifact = g.revision === newest.revision ? newest : this.artifacts.get(`${t.sourceKey}\u0000${g.revision}`);
    if (!artifact) {
      this.readBack(key, t.sourceKey!, g.revision);
      return {
        hold: `revision ${g.revision} (pinned by Rollout ${key}) is being read from the git cache; the cluster keeps what it has meanwhile`,
        requeueAfterMs: 30_000,
      };
    }
    return { artifact, prune: g.prune, ...(g.waiting ? { note: g.waiting } : {}) };
  }

  /** Reads a pinned revision's artifact back from the git cache, then reconciles the rollout's units again. */
  private readBack(rolloutKey: string, sourceKey: string, revision: string): void {
    const id = `${sourceKey}\u0000${revision}`;
    if (this.reading.has(id)) return;
    this.reading.add(id);
    void this.host
      .artifactAt(sourceKey, revision)
      .then((artifact) => {
        if (!artifact) {
          this.host.logger.warn(
            { rollout: rolloutKey, revision },
            "a pinned revision is not in the git cache; its clusters keep what they have until the rollout reaches them",
          );
          return;
        }
        this.artifacts.set(id, artifact);
        const t = this.rollouts.get(rolloutKey);
        if (t) for (const k of this.host.kustomizations()) if (isMember(t, k)) this.host.requeue(k);
      })
      .catch((error) =>
        this.host.logger.warn(
          { rollout: rolloutKey, revision, err: describeError(error) },
          "could not read a pinned revision from the git cache",
        ),
      )
      .finally(() => this.reading.delete(id));
  }

  /** Steps one rollout; the status write and the requeues follow asynchronously, in order. */
  private step(key: string): void {
    const t = this.rollouts.get(key);
    if (!t || !t.spec || !t.sourceKey || t.error) {
      if (t?.error)
        this.write(t, { ...(t.object.status ?? {}) }, { status: "False", reason: "InvalidSpec", message: t.error });
      return;
    }
    const now = this.host.clock.now();
    const clusters = this.observe(t);
    const decision = stepRollout({
      spec: t.spec,
      state: t.state,
      newest: this.host.newest(t.sourceKey)?.revision,
      clusters,
      control: controlOf(t.object),
      nowMs: now,
    });
    const previous = t.decision;
    t.state = decision.state;
    t.decision = decision;
    t.waveOf = new Map(
      assignWaves(t.spec, clusters).flatMap(({ wave, clusters: cs }) => cs.map((c) => [c.name, wave.name] as const)),
    );
    this.retainArtifacts();
    const moved = new Set(
      [...decision.pins].filter(([cluster, pin]) => previous?.pins.get(cluster) !== pin).map(([cluster]) => cluster),
    );
    if (moved.size > 0)
      for (const k of this.host.kustomizations())
        if (isMember(t, k) && moved.has(clusterOfUnit(k))) this.host.requeue(k);
    // A retry reconciles the failed units at once rather than at their next retry interval.
    if (decision.events.some((e) => e.reason === "RolloutRetried"))
      for (const k of this.host.kustomizations())
        if (isMember(t, k) && readyCondition(k.status?.conditions)?.status === "False") this.host.requeue(k);
    this.recordBreakGlass(t, now);
    for (const e of decision.events) {
      this.host.logger.info({ rollout: key, reason: e.reason }, e.message);
      void this.host.event(t.object, e.type, e.reason, e.message).catch(() => undefined);
    }
    const ready =
      decision.phase === "Succeeded" || decision.phase === "Idle"
        ? "True"
        : decision.phase === "Halted" || decision.phase === "RolledBack"
          ? "False"
          : "Unknown";
    const reason =
      ready === "True"
        ? Reason.Succeeded
        : ready === "False"
          ? decision.phase === "RolledBack"
            ? "RolledBack"
            : "RolloutHalted"
          : Reason.Progressing;
    this.write(
      t,
      statusOf(
        decision,
        t.windows,
        t.spec.waves.map((w) => w.name),
        now,
      ),
      { status: ready, reason, message: decision.message },
    );
    if (t.timer !== undefined) this.host.clock.clearTimeout(t.timer);
    t.timer =
      decision.recheckAtMs !== undefined
        ? this.host.clock.setTimeout(() => this.step(key), Math.max(0, decision.recheckAtMs - now))
        : undefined;
  }

  /** What the rollout sees: each workload cluster whose units follow its source. */
  private observe(t: Tracked): ClusterObservation[] {
    const byCluster = new Map<string, UnitObservation[]>();
    for (const k of this.host.kustomizations()) {
      if (!isMember(t, k) || k.spec.suspend || k.metadata.deletionTimestamp) continue;
      const ready = readyCondition(k.status?.conditions);
      const unit: UnitObservation = {
        name: `${k.metadata.namespace}/${k.metadata.name}`,
        ready: isReady(k) && k.status?.observedGeneration === k.metadata.generation,
        timeoutMs: timeoutOf(k),
        ...(k.status?.lastAppliedRevision ? { lastAppliedRevision: k.status.lastAppliedRevision } : {}),
        ...(k.status?.lastAttemptedRevision ? { lastAttemptedRevision: k.status.lastAttemptedRevision } : {}),
        ...(ready?.status === "False" && FAILURES.has(ready.reason ?? "")
          ? { failure: ready.message ?? ready.reason ?? "failed" }
          : {}),
      };
      const cluster = clusterOfUnit(k);
      byCluster.set(cluster, [...(byCluster.get(cluster) ?? []), unit]);
    }
    const now = this.host.clock.now();
    return [...byCluster].map(([name, units]) => {
      const c = this.clusters.get(name);
      return { name, labels: c?.metadata.labels ?? {}, units, window: this.windowOf(t, c, now) };
    });
  }

  /**
   * A cluster's window state, shared by the clusters with the same windows and break-glass (a fleet
   * has few distinct sets) and kept until it can next change (its nextOpen or nextClose).
   */
  private windowOf(t: Tracked, cluster: KubeObject | undefined, now: number): WindowState {
    const mine = windowsOf(t.windows, cluster?.metadata.labels ?? {});
    const breakGlass = cluster ? breakGlassOf(cluster) : undefined;
    const key = `${mine.map((w) => t.windows.indexOf(w)).join(",")}@${breakGlass?.untilMs ?? ""}`;
    let cache = this.windowStates.get(t.windows);
    if (!cache) this.windowStates.set(t.windows, (cache = new Map()));
    const hit = cache.get(key);
    if (hit && hit.fromMs <= now && now < hit.untilMs) return hit.state;
    const state = windowState(mine, now, breakGlass);
    if (cache.size > 1024) cache.clear();
    cache.set(key, { state, fromMs: now, untilMs: state.nextOpen ?? state.nextClose ?? now + 3_600_000 });
    return state;
  }

  /** A break-glass in force is recorded once per cluster and expiry, as an Event on the Rollout. */
  private recordBreakGlass(t: Tracked, now: number): void {
    for (const name of t.waveOf.keys()) {
      const c = this.clusters.get(name);
      const bg = c ? breakGlassOf(c) : undefined;
      if (!bg || bg.untilMs <= now) continue;
      const id = `${name}@${bg.untilMs}`;
      if (this.breakGlassSeen.has(id)) continue;
      this.breakGlassSeen.add(id);
      const message = `break-glass on cluster ${name}: its maintenance windows are open until ${new Date(bg.untilMs).toISOString()}`;
      this.host.logger.warn({ cluster: name }, message);
      void this.host.event(t.object, "Warning", "BreakGlass", message).catch(() => undefined);
    }
  }

  /** Drops artifacts no pin, target or stable revision names any more. */
  private retainArtifacts(): void {
    const keep = new Set<string>();
    for (const t of this.rollouts.values()) {
      for (const r of [...(t.decision?.pins.values() ?? []), t.state.target, t.state.stable])
        if (r) keep.add(`${t.sourceKey}\u0000${r}`);
    }
    for (const key of this.artifacts.keys()) if (!keep.has(key) && !this.isNewest(key)) this.artifacts.delete(key);
  }

  private isNewest(key: string): boolean {
    const [sourceKey, revision] = key.split("\u0000");
    return this.host.newest(sourceKey!)?.revision === revision;
  }

  private requeueUnitsOf(sourceKey: string | undefined): void {
    if (!sourceKey) return;
    for (const k of this.host.kustomizations()) if (sourceKeyOfUnit(k) === sourceKey) this.host.requeue(k);
  }

  /** Writes status when it changed, one write at a time. */
  private write(
    t: Tracked,
    status: Omit<RolloutStatus, "conditions" | "observedGeneration">,
    ready: { status: "True" | "False" | "Unknown"; reason: string; message: string },
  ): void {
    const generation = typeof t.object.metadata.generation === "number" ? t.object.metadata.generation : undefined;
    const next: RolloutStatus = {
      ...status,
      conditions: setCondition(
        t.object.status?.conditions,
        { type: "Ready", ...ready, ...(generation !== undefined ? { observedGeneration: generation } : {}) },
        new Date(this.host.clock.now()),
      ),
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    };
    if (JSON.stringify(next) === JSON.stringify(t.object.status)) return;
    const object = t.object; // with the status it had, so the patch can drop what the new one lacks
    t.object = { ...t.object, status: next };
    this.writing = this.writing.then(() =>
      this.host
        .patchStatus(object, next)
        .catch((error) =>
          this.host.logger.warn(
            { rollout: `${object.metadata.namespace}/${object.metadata.name}`, err: describeError(error) },
            "could not write the Rollout's status",
          ),
        ),
    );
  }
}

function timeoutOf(k: Kustomization): number {
  try {
    return k.spec.timeout ? parseDuration(k.spec.timeout) : DEFAULT_TIMEOUT_MS;
  } catch {
    return DEFAULT_TIMEOUT_MS;
  }
}
