import { formatDuration } from "../core/duration.js";
import type { Condition } from "../core/flux.js";
import { InvalidInputError } from "../core/errors.js";
import { isPlainObject, type KubeObject } from "../core/object.js";
import { parseRolloutSpec, parseSelector, parseWindows, type RolloutSpec } from "./config.js";
import type { ClusterSelector } from "./selector.js";
import type { RolloutControl, RolloutDecision, RolloutPhase, RolloutState, WaveStatus } from "./waves.js";
import { windowState, type BreakGlass, type WindowSpec } from "./windows.js";

export const ROLLOUT_API_VERSION = "flotilla.dev/v1alpha1";
/** `<wave>@<revision>`: the manual wave may start for that revision (`flotilla rollout approve`). */
export const APPROVE_ANNOTATION = "flotilla.dev/approve";
/** Any new value retries a halted rollout (`flotilla rollout retry`), as `reconcile.fluxcd.io/requestedAt` asks Flux to reconcile. */
export const RETRY_ANNOTATION = "flotilla.dev/retry";
/** On a Cluster API Cluster: an RFC 3339 instant until which the cluster's windows are open. */
export const BREAK_GLASS_ANNOTATION = "flotilla.dev/break-glass-until";

export interface RolloutObject extends KubeObject {
  apiVersion: typeof ROLLOUT_API_VERSION;
  kind: "Rollout";
  metadata: KubeObject["metadata"] & { name: string; namespace: string };
  spec: {
    sourceRef: { kind?: "GitRepository"; name: string; namespace?: string };
    /** Which of the source's Kustomizations (by their labels) are the rollout's units; unset: all that target a workload cluster. */
    selector?: ClusterSelector;
    suspend?: boolean;
    onFailure?: "halt" | "rollback";
    waves: unknown[];
    windows?: unknown[];
  };
  status?: RolloutStatus;
}

/** Flux-shaped status: conditions and observedGeneration, plus what the rollout keeps between passes. */
export interface RolloutStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  phase?: RolloutPhase;
  targetRevision?: string;
  stableRevision?: string;
  rejectedRevisions?: string[];
  activeWave?: string;
  waveIndex?: number;
  waveStarted?: boolean;
  soakStartedAt?: string;
  halted?: string;
  rolledBack?: boolean;
  retryHandled?: string;
  retryAt?: string;
  /** One entry per wave, counts only. */
  waves?: WaveStatus[];
  /** One entry per window of the spec. */
  windows?: Array<{
    kind: "allow" | "deny";
    schedule: string;
    timeZone: string;
    open: boolean;
    nextOpen?: string;
    nextClose?: string;
  }>;
}

/** A Rollout's spec, validated; errors name the object and the field. */
export function rolloutSpecOf(r: RolloutObject): {
  spec: RolloutSpec;
  windows: WindowSpec[];
  sourceKey: string;
  selector?: ClusterSelector;
} {
  const where = { object: `Rollout/${r.metadata.namespace}/${r.metadata.name}` };
  if (!isPlainObject(r.spec)) throw new InvalidInputError("must be a map", { ...where, field: "spec" });
  const ref = r.spec.sourceRef;
  if (!isPlainObject(ref) || typeof ref.name !== "string" || ref.name === "")
    throw new InvalidInputError("needs the name of a GitRepository", { ...where, field: "spec.sourceRef" });
  if (ref.kind !== undefined && ref.kind !== "GitRepository")
    throw new InvalidInputError(`kind '${String(ref.kind)}' is not supported; use GitRepository`, {
      ...where,
      field: "spec.sourceRef.kind",
    });
  const spec = parseRolloutSpec(r.spec, where, "spec", ["sourceRef", "selector", "suspend", "windows"]);
  const windows = r.spec.windows === undefined ? [] : parseWindows(r.spec.windows, where, "spec.windows");
  const selector = r.spec.selector === undefined ? undefined : parseSelector(r.spec.selector, where, "spec.selector");
  return {
    spec,
    windows,
    sourceKey: `${ref.namespace ?? r.metadata.namespace}/${ref.name}`,
    ...(selector ? { selector } : {}),
  };
}

/** The rollout's memory, read back from status. */
export function stateOf(status: RolloutStatus | undefined): RolloutState {
  const s = status ?? {};
  const ms = (t: string | undefined) => (t ? Date.parse(t) : undefined);
  const state: RolloutState = {
    rejected: s.rejectedRevisions ?? [],
    wave: s.waveIndex ?? 0,
    waveStarted: s.waveStarted ?? false,
  };
  if (s.targetRevision) state.target = s.targetRevision;
  if (s.stableRevision) state.stable = s.stableRevision;
  if (s.soakStartedAt) state.soakStartedAtMs = ms(s.soakStartedAt)!;
  if (s.halted) state.halted = s.halted;
  if (s.rolledBack) state.rolledBack = true;
  if (s.retryHandled) state.retryHandled = s.retryHandled;
  if (s.retryAt) state.retryAtMs = ms(s.retryAt)!;
  return state;
}

/** What people asked on the object: `spec.suspend`, the approve and retry annotations. */
export function controlOf(r: RolloutObject): RolloutControl {
  const a = r.metadata.annotations ?? {};
  return {
    paused: r.spec.suspend === true,
    ...(a[APPROVE_ANNOTATION] ? { approve: a[APPROVE_ANNOTATION] } : {}),
    ...(a[RETRY_ANNOTATION] ? { retry: a[RETRY_ANNOTATION] } : {}),
  };
}

/** A Cluster's break-glass annotation, if it parses as an instant. */
export function breakGlassOf(cluster: KubeObject): BreakGlass | undefined {
  const v = cluster.metadata.annotations?.[BREAK_GLASS_ANNOTATION];
  const ms = v ? Date.parse(v) : NaN;
  return Number.isNaN(ms) ? undefined : { untilMs: ms };
}

const isoOf = (ms: number | undefined) =>
  ms === undefined ? undefined : new Date(ms).toISOString().replace(/\.000Z$/, "Z");

/** The status a pass writes: state, bounded waves[] and windows[] (counts, never cluster lists). */
export function statusOf(
  decision: RolloutDecision,
  windows: readonly WindowSpec[],
  waveNames: readonly string[],
  nowMs: number,
): Omit<RolloutStatus, "conditions" | "observedGeneration"> {
  const st = decision.state;
  const out: Omit<RolloutStatus, "conditions" | "observedGeneration"> = {
    phase: decision.phase,
    ...(st.target ? { targetRevision: st.target } : {}),
    ...(st.stable ? { stableRevision: st.stable } : {}),
    ...(st.rejected.length ? { rejectedRevisions: st.rejected } : {}),
    ...(waveNames[st.wave] !== undefined ? { activeWave: waveNames[st.wave] } : {}),
    waveIndex: st.wave,
    waveStarted: st.waveStarted,
    ...(st.soakStartedAtMs !== undefined ? { soakStartedAt: isoOf(st.soakStartedAtMs) } : {}),
    ...(st.halted ? { halted: st.halted } : {}),
    ...(st.rolledBack ? { rolledBack: true } : {}),
    ...(st.retryHandled ? { retryHandled: st.retryHandled } : {}),
    ...(st.retryAtMs !== undefined ? { retryAt: isoOf(st.retryAtMs) } : {}),
    waves: decision.waves,
  };
  if (windows.length > 0) {
    out.windows = windows.map((w) => {
      const s = windowState([w], nowMs);
      return {
        kind: w.kind,
        schedule: w.schedule.expression,
        timeZone: w.schedule.timeZone,
        open: s.open,
        ...(s.nextOpen !== undefined ? { nextOpen: isoOf(s.nextOpen) } : {}),
        ...(s.nextClose !== undefined ? { nextClose: isoOf(s.nextClose) } : {}),
      };
    });
  }
  return out;
}

/** The manifest of a Rollout for an environment of flotilla.yaml (convention mode), the same shape a Flux-mode repository writes. */
export function rolloutManifest(
  name: string,
  namespace: string,
  sourceRef: { name: string; namespace: string },
  spec: RolloutSpec,
  windows: readonly WindowSpec[],
  labels: Record<string, string>,
): RolloutObject {
  return {
    apiVersion: ROLLOUT_API_VERSION,
    kind: "Rollout",
    metadata: { name, namespace, labels },
    spec: {
      sourceRef: { kind: "GitRepository", ...sourceRef },
      onFailure: spec.onFailure,
      waves: spec.waves.map((w) => ({
        name: w.name,
        ...(w.clusters ? { clusters: w.clusters } : {}),
        ...(w.maxConcurrent
          ? { maxConcurrent: "count" in w.maxConcurrent ? w.maxConcurrent.count : `${w.maxConcurrent.percent}%` }
          : {}),
        ...(w.soakMs ? { soak: formatDuration(w.soakMs) } : {}),
        ...(w.approval === "manual" ? { approval: "manual" } : {}),
      })),
      ...(windows.length
        ? {
            windows: windows.map((w) => ({
              kind: w.kind,
              schedule: w.schedule.expression,
              duration: formatDuration(w.durationMs),
              timeZone: w.schedule.timeZone,
              ...(w.clusters ? { clusters: w.clusters } : {}),
              gates: w.gates,
            })),
          }
        : {}),
    },
  };
}
