import { clusterOfUnit, type Condition, type Kustomization } from "../core/flux.js";
import { LEASE_CLUSTER_ANNOTATION, laneOfUnit } from "../core/leases.js";
import type { KubeObject } from "../core/object.js";
import { readyCondition } from "./conditions.js";

/** One line of `flotilla status`. */
export interface UnitStatusRow {
  namespace: string;
  name: string;
  cluster: string;
  ready: "True" | "False" | "Unknown";
  status: string;
  age: string;
  /** The replica holding the Lease of the unit's cluster (with replicas): `-` when none does. */
  owner?: string;
}

export interface ClusterStatusRow {
  namespace: string;
  name: string;
  phase: string;
  ready: "True" | "False" | "Unknown";
  age: string;
}

/**
 * Whether a unit waits for nothing more: Ready, or suspended (`spec.suspend`: not reconciled, so it
 * never becomes Ready by itself; Flux keeps its last status). What `up --once` waits for.
 */
export function unitSettled(k: Pick<Kustomization, "spec" | "status">): boolean {
  return k.spec.suspend === true || readyCondition(k.status?.conditions)?.status === "True";
}

/** How long ago `timestamp` was, the way kubectl prints ages (`45s`, `12m`, `3h`, `2d`). */
export function age(timestamp: string | undefined, now: Date): string {
  if (!timestamp) return "<unknown>";
  const seconds = Math.max(0, Math.floor((now.getTime() - Date.parse(timestamp)) / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 3600 * 2) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86_400 * 2) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}

/**
 * Who holds each cluster's Lease (lane → holder), from the replicas' cluster Leases; a Lease not
 * renewed within its duration (by its own renewTime) is marked `(expired)`. Several replica sets
 * (shards) holding one cluster are listed together.
 */
export function clusterOwners(leases: readonly KubeObject[], now: Date): Map<string, string> {
  const owners = new Map<string, string[]>();
  for (const l of leases) {
    const lane = l.metadata.annotations?.[LEASE_CLUSTER_ANNOTATION];
    const spec = (l.spec ?? {}) as { holderIdentity?: unknown; renewTime?: unknown; leaseDurationSeconds?: unknown };
    if (typeof lane !== "string" || typeof spec.holderIdentity !== "string" || !spec.holderIdentity) continue;
    const renewed = typeof spec.renewTime === "string" ? Date.parse(spec.renewTime) : NaN;
    const seconds = typeof spec.leaseDurationSeconds === "number" ? spec.leaseDurationSeconds : 15;
    const expired = Number.isFinite(renewed) && renewed + seconds * 1000 < now.getTime();
    owners.set(lane, [...(owners.get(lane) ?? []), `${spec.holderIdentity}${expired ? " (expired)" : ""}`]);
  }
  return new Map([...owners].map(([lane, holders]) => [lane, holders.sort().join(",")]));
}

/** The rows of the unit table, sorted by namespace and name; with `owners`, each unit's cluster's owner. */
export function unitRows(
  units: readonly Kustomization[],
  now: Date,
  owners?: ReadonlyMap<string, string>,
): UnitStatusRow[] {
  return units
    .map((k) => {
      const ready = readyCondition(k.status?.conditions);
      return {
        namespace: k.metadata.namespace,
        name: k.metadata.name,
        cluster: clusterOfUnit(k),
        ready: ready?.status ?? "Unknown",
        status: k.spec.suspend ? "Suspended" : (ready?.message ?? "waiting to be reconciled"),
        age: age(k.metadata.creationTimestamp as string | undefined, now),
        ...(owners ? { owner: owners.get(laneOfUnit(k)) ?? "-" } : {}),
      };
    })
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}

/** The rows of the cluster table from Cluster API `Cluster` objects. */
export function clusterRows(clusters: readonly KubeObject[], now: Date): ClusterStatusRow[] {
  return clusters
    .map((c) => {
      const status = (c.status ?? {}) as { phase?: string; conditions?: Condition[] };
      return {
        namespace: c.metadata.namespace ?? "",
        name: c.metadata.name ?? "",
        phase: status.phase ?? "Pending",
        ready: readyCondition(status.conditions)?.status ?? "Unknown",
        age: age(c.metadata.creationTimestamp as string | undefined, now),
      };
    })
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}

/** Rows as an aligned table with upper-case headers, as kubectl prints. */
export function formatTable<T extends object>(rows: readonly T[], columns: ReadonlyArray<keyof T & string>): string {
  const header = columns.map((c) => c.toUpperCase());
  const cells = rows.map((r) => columns.map((c) => String(r[c] ?? "")));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: string[]) =>
    values.map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i]! + 3))).join("");
  return `${[line(header), ...cells.map(line)].join("\n")}\n`;
}
