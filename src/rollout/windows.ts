import type { CronSchedule } from "./cron.js";
import { matchesSelector, type ClusterSelector } from "./selector.js";

/** What a closed window holds back. `revision` and `prune` always; `drift` only when listed. */
export type WindowGate = "revision" | "prune" | "drift";

/** One maintenance window of `flotilla.yaml` `windows[]` or a Rollout's `spec.windows[]`. */
export interface WindowSpec {
  kind: "allow" | "deny";
  schedule: CronSchedule;
  durationMs: number;
  clusters?: ClusterSelector;
  gates: WindowGate[];
}

/** Whether a cluster may change now, and when that next changes. */
export interface WindowState {
  open: boolean;
  /** Why closed (`outside allow window '0 22 * * 1-4' (Europe/Berlin)`), or open by break-glass. */
  reason?: string;
  /** When the cluster's windows next open (closed) or close (open); undefined: never within the search. */
  nextOpen?: number;
  nextClose?: number;
  /** Open only because of a break-glass annotation whose expiry is still ahead. */
  breakGlass?: boolean;
  /** What a closed state holds back. */
  gates: WindowGate[];
}

/** A break-glass annotation's expiry (`flotilla.dev/break-glass-until: <RFC 3339>`), parsed by the caller. */
export interface BreakGlass {
  untilMs: number;
}

const SEARCH_STEPS = 64;

/** The windows that apply to a cluster with `labels`. */
export function windowsOf(windows: readonly WindowSpec[], labels: Record<string, string>): WindowSpec[] {
  return windows.filter((w) => w.clusters === undefined || matchesSelector(w.clusters, labels));
}

/** When one window is open at `atMs`, the instant its current opening ends (overlapping openings chain). */
function openUntil(w: WindowSpec, atMs: number): number | undefined {
  const start = w.schedule.previous(atMs, w.durationMs);
  if (start === undefined || start + w.durationMs <= atMs) return undefined;
  let end = start + w.durationMs;
  let from = start;
  for (let i = 0; i < SEARCH_STEPS; i++) {
    const n = w.schedule.next(from, Math.ceil(w.durationMs / 86_400_000) + 1);
    if (n === undefined || n > end) break;
    end = Math.max(end, n + w.durationMs);
    from = n;
  }
  return end;
}

/**
 * Allow windows: with none, always allowed; with some, allowed only inside one. Deny windows: never
 * inside one, whatever the allow windows say (deny wins). A break-glass opens everything until it
 * expires.
 */
function openAt(windows: readonly WindowSpec[], atMs: number, breakGlass?: BreakGlass): boolean {
  if (breakGlass && breakGlass.untilMs > atMs) return true;
  if (windows.some((w) => w.kind === "deny" && openUntil(w, atMs) !== undefined)) return false;
  const allows = windows.filter((w) => w.kind === "allow");
  return allows.length === 0 || allows.some((w) => openUntil(w, atMs) !== undefined);
}

/** The earliest instant after `atMs` at which any one window opens or closes. */
function nextBoundary(windows: readonly WindowSpec[], atMs: number, breakGlass?: BreakGlass): number | undefined {
  const candidates: number[] = [];
  for (const w of windows) {
    const until = openUntil(w, atMs);
    if (until !== undefined) candidates.push(until);
    const n = w.schedule.next(atMs);
    if (n !== undefined) candidates.push(n);
  }
  if (breakGlass && breakGlass.untilMs > atMs) candidates.push(breakGlass.untilMs);
  return candidates.length > 0 ? Math.min(...candidates) : undefined;
}

/** The first instant after `atMs` at which the combined state differs from `open`. */
function nextChange(
  windows: readonly WindowSpec[],
  atMs: number,
  open: boolean,
  breakGlass?: BreakGlass,
): number | undefined {
  let t = atMs;
  for (let i = 0; i < SEARCH_STEPS; i++) {
    const b = nextBoundary(windows, t, breakGlass);
    if (b === undefined) return undefined;
    if (openAt(windows, b, breakGlass) !== open) return b;
    t = b;
  }
  return undefined;
}

const describe = (w: WindowSpec) => `'${w.schedule.expression}' (${w.schedule.timeZone})`;

/** The state of a cluster's windows (already filtered with windowsOf) at `nowMs`. */
export function windowState(windows: readonly WindowSpec[], nowMs: number, breakGlass?: BreakGlass): WindowState {
  const gates = [...new Set<WindowGate>(["revision", "prune", ...windows.flatMap((w) => w.gates)])];
  if (windows.length === 0 && !(breakGlass && breakGlass.untilMs > nowMs)) return { open: true, gates };
  const open = openAt(windows, nowMs, breakGlass);
  const change = nextChange(windows, nowMs, open, breakGlass);
  if (open) {
    const byBreakGlass = breakGlass !== undefined && breakGlass.untilMs > nowMs && !openAt(windows, nowMs);
    return {
      open,
      gates,
      ...(change !== undefined ? { nextClose: change } : {}),
      ...(byBreakGlass ? { breakGlass: true, reason: "open by break-glass" } : {}),
    };
  }
  const deny = windows.find((w) => w.kind === "deny" && openUntil(w, nowMs) !== undefined);
  const reason = deny
    ? `inside deny window ${describe(deny)}`
    : `outside allow window${windows.filter((w) => w.kind === "allow").length > 1 ? "s" : ""} ${windows
        .filter((w) => w.kind === "allow")
        .map(describe)
        .join(", ")}`;
  return { open, gates, reason, ...(change !== undefined ? { nextOpen: change } : {}) };
}

/**
 * Whether an apply that may take up to `timeoutMs` may start now: the window must be open and stay
 * open until the apply's timeout would end, so no apply runs past the window's close.
 */
export function mayStart(state: WindowState, nowMs: number, timeoutMs: number): { ok: boolean; reason?: string } {
  if (!state.open) return { ok: false, reason: state.reason ?? "outside its maintenance window" };
  if (state.nextClose !== undefined && nowMs + timeoutMs > state.nextClose) {
    return {
      ok: false,
      reason: `the window closes at ${new Date(state.nextClose).toISOString()}, before an apply with timeout ${Math.round(timeoutMs / 1000)}s would end`,
    };
  }
  return { ok: true };
}
