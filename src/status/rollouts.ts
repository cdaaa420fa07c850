import type { RolloutObject } from "../rollout/index.js";
import { readyCondition } from "./conditions.js";
import { formatTable } from "./table.js";

/** One line per wave: `flotilla rollout status`, and the rollout part of `status` and `up`. */
export interface WaveRow {
  rollout: string;
  wave: string;
  updated: string;
  phase: string;
  reason: string;
}

/** The wave rows of Rollouts (updated/total, phase, reason), in wave order. */
export function waveRows(rollouts: readonly RolloutObject[]): WaveRow[] {
  return [...rollouts]
    .sort(
      (a, b) =>
        a.metadata.namespace.localeCompare(b.metadata.namespace) || a.metadata.name.localeCompare(b.metadata.name),
    )
    .flatMap((r) => {
      const name = `${r.metadata.namespace}/${r.metadata.name}`;
      const waves = r.status?.waves ?? [];
      if (waves.length === 0)
        return [
          {
            rollout: name,
            wave: "-",
            updated: "-",
            phase: r.status?.phase ?? "Pending",
            reason: readyCondition(r.status?.conditions)?.message ?? "waiting to be reconciled",
          },
        ];
      return waves.map((w) => {
        const extra = [
          w.progressing ? `${w.progressing} progressing` : "",
          w.waitingForWindow ? `${w.waitingForWindow} waiting for window` : "",
          w.failed ? `${w.failed} failed` : "",
        ]
          .filter(Boolean)
          .join(", ");
        return {
          rollout: name,
          wave: w.name,
          updated: `${w.updated}/${w.total}`,
          phase: w.phase,
          reason: [w.reason, extra].filter(Boolean).join("; "),
        };
      });
    });
}

/** The full report of one Rollout: a headline, its waves, its windows. */
export function formatRollout(r: RolloutObject): string {
  const s = r.status ?? {};
  const ready = readyCondition(s.conditions);
  const lines = [
    `Rollout ${r.metadata.namespace}/${r.metadata.name}: ${s.phase ?? "Pending"}${r.spec.suspend ? " (paused)" : ""}`,
    `  target: ${s.targetRevision ?? "-"}   stable: ${s.stableRevision ?? "-"}${s.rejectedRevisions?.length ? `   rejected: ${s.rejectedRevisions.join(", ")}` : ""}`,
    ...(ready?.message ? [`  ${ready.message}`] : []),
    "",
    formatTable(
      waveRows([r]).map(({ wave, updated, phase, reason }) => ({ wave, updated, phase, reason })),
      ["wave", "updated", "phase", "reason"],
    ),
  ];
  if (s.windows?.length) {
    const rows = s.windows.map((w) => ({
      window: `${w.kind} '${w.schedule}'`,
      "time zone": w.timeZone,
      open: w.open ? "yes" : "no",
      "next open": w.nextOpen ?? "-",
      "next close": w.nextClose ?? "-",
    }));
    lines.push(formatTable(rows, ["window", "time zone", "open", "next open", "next close"]));
  }
  return lines.join("\n");
}

/** Whether a rollout needs nothing more: every wave through (or nothing to roll out). */
export function rolloutSettled(r: RolloutObject): boolean {
  return r.status?.phase === "Succeeded" || r.status?.phase === "Idle";
}
