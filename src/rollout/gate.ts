import { mayStart, type WindowState } from "./windows.js";

/** What one unit may do now: apply `revision` (pruning or not), or hold with a reason. */
export type UnitGateDecision =
  | { apply: true; revision: string; prune: boolean; waiting?: string; recheckAtMs?: number }
  | { apply: false; reason: string; recheckAtMs?: number };

/**
 * The gate of one unit of a cluster in a rollout: the cluster's pinned revision, through its
 * windows. A revision new to the unit starts only inside a window that stays open for the unit's
 * timeout; until then, and whenever the pin is the revision it already applied, that revision is
 * re-applied (drift correction) unless the windows gate drift, and prunes only inside a window.
 */
export function unitGate(input: {
  pin: string | undefined;
  waitingFor: string;
  lastAppliedRevision: string | undefined;
  window: WindowState | undefined;
  timeoutMs: number;
  nowMs: number;
}): UnitGateDecision {
  const { pin, window, nowMs } = input;
  if (pin === undefined)
    return { apply: false, reason: `waiting for ${input.waitingFor}: the cluster has no revision yet` };
  const w = window ?? { open: true, gates: [] };
  if (pin !== input.lastAppliedRevision) {
    const start = mayStart(w, nowMs, input.timeoutMs);
    if (start.ok) return { apply: true, revision: pin, prune: true };
    const waiting = `revision ${pin} waits for the cluster's maintenance window: ${start.reason}`;
    const recheck = w.nextOpen !== undefined ? { recheckAtMs: w.nextOpen } : {};
    if (input.lastAppliedRevision === undefined || w.gates.includes("drift"))
      return { apply: false, reason: waiting, ...recheck };
    return { apply: true, revision: input.lastAppliedRevision, prune: false, waiting, ...recheck };
  }
  if (!w.open && w.gates.includes("drift"))
    return {
      apply: false,
      reason: `outside the cluster's maintenance window (drift is gated): ${w.reason ?? ""}`.trim(),
      ...(w.nextOpen !== undefined ? { recheckAtMs: w.nextOpen } : {}),
    };
  return { apply: true, revision: pin, prune: w.open };
}
