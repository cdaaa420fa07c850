import type { RolloutSpec, WaveSpec } from "./config.js";
import { matchesSelector } from "./selector.js";
import { mayStart, type WindowState } from "./windows.js";

/** What the rollout sees of one cluster of its environment: labels, and its units of the environment's source. */
export interface ClusterObservation {
  name: string;
  labels: Record<string, string>;
  units: UnitObservation[];
  /** The cluster's windows now (windowState); undefined: no windows, always open. */
  window?: WindowState;
}

export interface UnitObservation {
  name: string;
  lastAppliedRevision?: string;
  lastAttemptedRevision?: string;
  /** Ready=True for the unit's current generation. */
  ready: boolean;
  /** Ready=False with a failure (health check, timeout, apply, build): its message names the object. */
  failure?: string;
  timeoutMs: number;
}

/** What survives between passes: kept in the Rollout's status. Everything per cluster is recomputed. */
export interface RolloutState {
  /** The revision being rolled out (the newest the source offered that was not rejected). */
  target?: string;
  /** The last revision that went through every wave. */
  stable?: string;
  /** Rolled back; not rolled out again until a newer revision supersedes it. Newest last, at most 10. */
  rejected: string[];
  /** Index of the active wave; `waves.length` (with the unmatched wave) when complete. */
  wave: number;
  /** The active wave was started (approved, if manual). */
  waveStarted: boolean;
  /** When every cluster of the active wave met its gates; soak counts from here. */
  soakStartedAtMs?: number;
  /** Why the rollout stopped: names the cluster, the unit and the object. */
  halted?: string;
  rolledBack?: boolean;
  /** The retry request handled last (the annotation's value), and when. */
  retryHandled?: string;
  retryAtMs?: number;
}

/** What a person said, through annotations or spec (so kubectl can say it too). */
export interface RolloutControl {
  paused: boolean;
  /** `<wave>@<revision>`: that wave may start for that revision. */
  approve?: string;
  /** Any new value asks to retry a halted rollout. */
  retry?: string;
}

export type WavePhase = "Pending" | "WaitingApproval" | "Progressing" | "Soaking" | "Succeeded" | "Failed" | "Paused";

/** One wave's line of status: counts only, so status stays small at 1,000 clusters. */
export interface WaveStatus {
  name: string;
  total: number;
  updated: number;
  progressing: number;
  waitingForWindow: number;
  failed: number;
  phase: WavePhase;
  reason?: string;
}

export type RolloutPhase =
  "Progressing" | "Soaking" | "WaitingApproval" | "Paused" | "Halted" | "RolledBack" | "Succeeded" | "Idle";

export interface RolloutEvent {
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

export interface RolloutDecision {
  state: RolloutState;
  /** The revision each cluster's units apply now; undefined: nothing yet (a new cluster before its wave, with no stable revision). */
  pins: Map<string, string | undefined>;
  waves: WaveStatus[];
  phase: RolloutPhase;
  message: string;
  events: RolloutEvent[];
  /** When something is due without any object changing (soak end, a window opening). */
  recheckAtMs?: number;
}

/** The name of the wave that takes clusters no declared wave matches. */
export const UNMATCHED_WAVE = "unmatched";
const MAX_REJECTED = 10;

/** Each wave's clusters, in order; clusters no wave matches form a final wave, never dropped. */
export function assignWaves(
  spec: RolloutSpec,
  clusters: readonly ClusterObservation[],
): Array<{ wave: WaveSpec; clusters: ClusterObservation[] }> {
  const out = spec.waves.map((wave) => ({ wave, clusters: [] as ClusterObservation[] }));
  const unmatched: ClusterObservation[] = [];
  for (const c of [...clusters].sort((a, b) => a.name.localeCompare(b.name))) {
    const slot = out.find((w) => w.wave.clusters === undefined || matchesSelector(w.wave.clusters, c.labels));
    (slot ? slot.clusters : unmatched).push(c);
  }
  if (unmatched.length > 0)
    out.push({ wave: { name: UNMATCHED_WAVE, soakMs: 0, approval: "auto" }, clusters: unmatched });
  return out;
}

/** The number of a wave's clusters that may change at once. */
export function slotsOf(wave: WaveSpec, total: number): number {
  if (!wave.maxConcurrent) return Math.max(total, 1);
  if ("count" in wave.maxConcurrent) return wave.maxConcurrent.count;
  return Math.max(1, Math.ceil((total * wave.maxConcurrent.percent) / 100));
}

/** How one cluster stands against the target. */
type ClusterStanding = "updated" | "failed" | "progressing" | "held" | "pending";

const maxTimeout = (c: ClusterObservation) => Math.max(0, ...c.units.map((u) => u.timeoutMs));

/** Every unit applied the target and is Ready for its generation. */
const isUpdated = (c: ClusterObservation, target: string) =>
  c.units.length > 0 && c.units.every((u) => u.lastAppliedRevision === target && u.ready);
/** Some unit has tried the target (or applied it): the cluster was started. */
const isStarted = (c: ClusterObservation, target: string) =>
  c.units.some((u) => u.lastAttemptedRevision === target || u.lastAppliedRevision === target);
/** A unit that failed at the target (its health checks, its timeout, its apply). */
const failureOf = (c: ClusterObservation, target: string) =>
  c.units.find((u) => u.failure !== undefined && !u.ready && u.lastAttemptedRevision === target);

/**
 * The revision a cluster keeps while the rollout has not reached it: what its units last applied
 * that is not a rejected revision (the most common one, if they differ), else the stable revision.
 */
export function keptRevision(
  c: ClusterObservation,
  state: Pick<RolloutState, "stable" | "rejected" | "target">,
  avoid?: string,
): string | undefined {
  const counts = new Map<string, number>();
  for (const u of c.units) {
    const r = u.lastAppliedRevision;
    if (r === undefined || state.rejected.includes(r) || r === avoid) continue;
    counts.set(r, (counts.get(r) ?? 0) + 1);
  }
  let best: string | undefined;
  for (const [r, n] of counts) if (best === undefined || n > counts.get(best)!) best = r;
  return best ?? state.stable;
}

/**
 * One pass of an environment's rollout: takes the source's newest revision, what the clusters
 * report and what people asked, and says which revision each cluster applies now. Pure: the same
 * inputs give the same pins, so a restarted controller picks the same clusters again.
 */
export function stepRollout(input: {
  spec: RolloutSpec;
  state: RolloutState;
  newest: string | undefined;
  clusters: readonly ClusterObservation[];
  control: RolloutControl;
  nowMs: number;
}): RolloutDecision {
  const { spec, control, nowMs } = input;
  const state: RolloutState = { ...input.state, rejected: [...input.state.rejected] };
  const events: RolloutEvent[] = [];
  const waves = assignWaves(spec, input.clusters);

  adoptNewest(state, input.newest, events);
  handleRetry(state, control, nowMs, events);
  const target = state.target;
  const pins = new Map<string, string | undefined>();
  if (target === undefined) {
    for (const c of input.clusters) pins.set(c.name, keptRevision(c, state));
    return {
      state,
      pins,
      waves: waves.map(({ wave, clusters }) => idleWave(wave.name, clusters.length)),
      phase: "Idle",
      message: "no revision to roll out",
      events,
    };
  }

  const standings = new Map<string, ClusterStanding>();
  const standingOf = (c: ClusterObservation): ClusterStanding => {
    if (isUpdated(c, target)) return "updated";
    const failed = failureOf(c, target);
    const retrying = state.retryAtMs !== undefined && nowMs < state.retryAtMs + maxTimeout(c);
    if (failed && !retrying) return "failed";
    if (isStarted(c, target)) return "progressing";
    return mayStart(c.window ?? { open: true, gates: [] }, nowMs, maxTimeout(c)).ok ? "pending" : "held";
  };

  for (const c of input.clusters) standings.set(c.name, standingOf(c));
  detectFailure(
    state,
    spec,
    waves.slice(0, state.wave + 1).flatMap((w) => w.clusters),
    standings,
    target,
    events,
  );
  if (!state.halted && !control.paused) advance(state, waves, standings, control, nowMs, events, target);

  // Pins: clusters of passed waves, and of the active wave within its slots, apply the target
  // (a held cluster of a passed wave when its window opens); everyone else keeps what it has.
  const recheck: number[] = [];
  const statuses: WaveStatus[] = [];
  for (let i = 0; i < waves.length; i++) {
    const { wave, clusters } = waves[i]!;
    const active = i === state.wave && !state.halted;
    const started = i < state.wave || (i === state.wave && state.waveStarted);
    let progressing = clusters.filter((c) => standings.get(c.name) === "progressing").length;
    let slots = started && !control.paused && !state.halted ? slotsOf(wave, clusters.length) - progressing : 0;
    for (const c of clusters) {
      const s = standings.get(c.name)!;
      const kept = keptRevision(c, state, target);
      if (s === "updated" || s === "progressing") pins.set(c.name, target);
      else if (s === "failed") pins.set(c.name, state.rolledBack ? kept : target);
      else if (s === "pending" && started && (i < state.wave || slots > 0)) {
        pins.set(c.name, target);
        if (i === state.wave) slots--;
        progressing++;
        standings.set(c.name, "progressing");
      } else {
        pins.set(c.name, kept);
        if (s === "held" && c.window?.nextOpen !== undefined) recheck.push(c.window.nextOpen);
      }
    }
    statuses.push(
      waveStatus(wave.name, clusters, standings, {
        active,
        started,
        paused: control.paused,
        halted: i === state.wave ? state.halted : undefined,
        state,
        target,
        approval: wave.approval,
      }),
    );
  }
  if (state.soakStartedAtMs !== undefined && state.wave < waves.length)
    recheck.push(state.soakStartedAtMs + waves[state.wave]!.wave.soakMs);
  // After a retry, failures count again once each cluster's timeout has passed.
  if (state.retryAtMs !== undefined)
    for (const c of input.clusters)
      if (nowMs < state.retryAtMs + maxTimeout(c)) recheck.push(state.retryAtMs + maxTimeout(c));

  const { phase, message } = phaseOf(state, waves, control, target);
  return {
    state,
    pins,
    waves: statuses,
    phase,
    message,
    events,
    ...(recheck.length > 0 ? { recheckAtMs: Math.min(...recheck) } : {}),
  };
}

/** A newer revision supersedes the target: the rollout starts again from the first wave. */
function adoptNewest(state: RolloutState, newest: string | undefined, events: RolloutEvent[]): void {
  if (newest === undefined || newest === state.target || state.rejected.includes(newest)) return;
  if (state.target !== undefined && !state.rolledBack && state.target !== state.stable) {
    events.push({
      type: "Normal",
      reason: "Superseded",
      message: `revision ${newest} supersedes ${state.target}; starting again from the first wave`,
    });
  }
  state.target = newest;
  state.wave = 0;
  state.waveStarted = false;
  delete state.soakStartedAtMs;
  delete state.halted;
  delete state.rolledBack;
  delete state.retryAtMs;
  events.push({ type: "Normal", reason: "RolloutStarted", message: `rolling out ${newest}` });
}

function handleRetry(state: RolloutState, control: RolloutControl, nowMs: number, events: RolloutEvent[]): void {
  if (control.retry === undefined || control.retry === state.retryHandled) return;
  state.retryHandled = control.retry;
  if (!state.halted || state.rolledBack) return;
  events.push({ type: "Normal", reason: "RolloutRetried", message: `retrying after: ${state.halted}` });
  delete state.halted;
  state.retryAtMs = nowMs;
}

function detectFailure(
  state: RolloutState,
  spec: RolloutSpec,
  reached: ClusterObservation[],
  standings: Map<string, ClusterStanding>,
  target: string,
  events: RolloutEvent[],
): void {
  if (state.halted) return;
  const failed = reached.filter((c) => standings.get(c.name) === "failed");
  if (failed.length === 0) return;
  const first = failed[0]!;
  const unit = failureOf(first, target)!;
  const more = failed.length > 1 ? ` (and ${failed.length - 1} more cluster${failed.length > 2 ? "s" : ""})` : "";
  state.halted = `cluster ${first.name}, unit ${unit.name}: ${unit.failure}${more}`;
  delete state.soakStartedAtMs;
  if (spec.onFailure === "rollback") {
    state.rolledBack = true;
    state.rejected = [...state.rejected.filter((r) => r !== target), target].slice(-MAX_REJECTED);
    events.push({
      type: "Warning",
      reason: "RolledBack",
      message: `revision ${target} rejected; ${failed.map((c) => c.name).join(", ")} back to ${failed.map((c) => keptRevision(c, state, target) ?? "nothing").join(", ")}: ${state.halted}`,
    });
  } else {
    events.push({ type: "Warning", reason: "RolloutHalted", message: `rollout of ${target} halted: ${state.halted}` });
  }
}

/** Starts the active wave (approval permitting), and moves to the next one when its gates and soak are met. */
function advance(
  state: RolloutState,
  waves: ReturnType<typeof assignWaves>,
  standings: Map<string, ClusterStanding>,
  control: RolloutControl,
  nowMs: number,
  events: RolloutEvent[],
  target: string,
): void {
  while (state.wave < waves.length) {
    const { wave, clusters } = waves[state.wave]!;
    if (!state.waveStarted) {
      if (wave.approval === "manual" && control.approve !== `${wave.name}@${target}`) return;
      state.waveStarted = true;
      events.push({
        type: "Normal",
        reason: "WaveStarted",
        message: `wave ${wave.name} (${clusters.length} cluster${clusters.length === 1 ? "" : "s"}) starts ${target}`,
      });
    }
    const updated = clusters.filter((c) => standings.get(c.name) === "updated").length;
    const held = clusters.filter((c) => standings.get(c.name) === "held").length;
    // Held clusters block nobody, but a wave whose every cluster is held waits: it proved nothing yet.
    const gatesMet = updated + held === clusters.length && (updated > 0 || clusters.length === 0);
    if (!gatesMet) {
      delete state.soakStartedAtMs;
      return;
    }
    state.soakStartedAtMs ??= nowMs;
    // An empty wave (no cluster carries its labels yet) has nothing to soak.
    if (clusters.length > 0 && nowMs - state.soakStartedAtMs < wave.soakMs) return;
    events.push({
      type: "Normal",
      reason: "WaveSucceeded",
      message: `wave ${wave.name}: ${updated}/${clusters.length} clusters on ${target}${held ? `, ${held} waiting for their window` : ""}`,
    });
    state.wave++;
    state.waveStarted = false;
    delete state.soakStartedAtMs;
  }
  if (state.stable !== target) {
    state.stable = target;
    events.push({ type: "Normal", reason: "RolloutSucceeded", message: `${target} went through every wave` });
  }
}

function waveStatus(
  name: string,
  clusters: ClusterObservation[],
  standings: Map<string, ClusterStanding>,
  at: {
    active: boolean;
    started: boolean;
    paused: boolean;
    halted?: string;
    state: RolloutState;
    target: string;
    approval: WaveSpec["approval"];
  },
): WaveStatus {
  const count = (s: ClusterStanding) => clusters.filter((c) => standings.get(c.name) === s).length;
  const status: WaveStatus = {
    name,
    total: clusters.length,
    updated: count("updated"),
    progressing: count("progressing"),
    waitingForWindow: count("held"),
    failed: count("failed"),
    phase: "Pending",
  };
  if (at.halted && status.failed > 0) return { ...status, phase: "Failed", reason: at.halted };
  if (status.updated + status.waitingForWindow === status.total && at.started && !at.active)
    return {
      ...status,
      phase: "Succeeded",
      ...(status.waitingForWindow ? { reason: `${status.waitingForWindow} waiting for their window` } : {}),
    };
  if (!at.active) return status;
  if (at.paused) return { ...status, phase: "Paused", reason: "paused" };
  if (!at.started)
    return {
      ...status,
      phase: at.approval === "manual" ? "WaitingApproval" : "Pending",
      ...(at.approval === "manual" ? { reason: `flotilla rollout approve (${name}@${at.target})` } : {}),
    };
  if (at.state.soakStartedAtMs !== undefined)
    return { ...status, phase: "Soaking", reason: `soaking since ${new Date(at.state.soakStartedAtMs).toISOString()}` };
  return {
    ...status,
    phase: "Progressing",
    ...(status.waitingForWindow ? { reason: `${status.waitingForWindow} waiting for their window` } : {}),
  };
}

const idleWave = (name: string, total: number): WaveStatus => ({
  name,
  total,
  updated: 0,
  progressing: 0,
  waitingForWindow: 0,
  failed: 0,
  phase: "Pending",
});

function phaseOf(
  state: RolloutState,
  waves: ReturnType<typeof assignWaves>,
  control: RolloutControl,
  target: string,
): { phase: RolloutPhase; message: string } {
  if (state.rolledBack) return { phase: "RolledBack", message: `${target} rejected and rolled back: ${state.halted}` };
  if (state.halted) return { phase: "Halted", message: `halted: ${state.halted}` };
  if (state.wave >= waves.length) return { phase: "Succeeded", message: `${target} rolled out to every wave` };
  const wave = waves[state.wave]!.wave.name;
  if (control.paused) return { phase: "Paused", message: `paused at wave ${wave} of ${target}` };
  if (!state.waveStarted) return { phase: "WaitingApproval", message: `wave ${wave} waits for approval of ${target}` };
  if (state.soakStartedAtMs !== undefined) return { phase: "Soaking", message: `wave ${wave} soaking ${target}` };
  return { phase: "Progressing", message: `wave ${wave} rolling out ${target}` };
}
