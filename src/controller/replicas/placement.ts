import { createHash } from "node:crypto";

/**
 * Where each workload cluster goes among the live replicas: consistent hashing with bounded loads
 * (Mirrokni, Thorup and Zadimoghaddam, "Consistent Hashing with Bounded Loads", 2017), weighted.
 * Replicas sit on a hash ring at `virtualNodes` points each; clusters, taken in the order of their
 * own hash, walk the ring clockwise from their hash to the first replica whose load plus the
 * cluster's weight stays within `loadFactor` × the mean load. Pure: same input, same placement, on
 * every replica.
 */
export interface PlacementOptions {
  /** Most load a replica takes, as a multiple of the mean (default 1.25). */
  loadFactor?: number;
  /** Points per replica on the ring (default 64). */
  virtualNodes?: number;
}

export interface WeightedCluster {
  id: string;
  /** Units of the cluster (at least 1 counts). */
  weight: number;
}

/** A 52-bit position on the ring (exact in a JavaScript number). */
export function ringHash(text: string): number {
  const h = createHash("sha256").update(text).digest();
  return h.readUIntBE(0, 6) + (h[6]! & 0x0f) * 2 ** 48;
}

/** A cluster's weight as placement counts it: its units, at least 1 (anything not a finite number counts 1). */
export function weightOf(c: WeightedCluster): number {
  return Number.isFinite(c.weight) ? Math.max(1, c.weight) : 1;
}

interface Point {
  at: number;
  replica: string;
}

function ring(replicas: readonly string[], virtualNodes: number): Point[] {
  const points: Point[] = [];
  for (const replica of replicas)
    for (let i = 0; i < virtualNodes; i++) points.push({ at: ringHash(`${replica}#${i}`), replica });
  return points.sort((a, b) => a.at - b.at || a.replica.localeCompare(b.replica));
}

/** The first ring index at or after `at` (wrapping). */
function firstAtOrAfter(points: readonly Point[], at: number): number {
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (points[mid]!.at < at) lo = mid + 1;
    else hi = mid;
  }
  return lo % points.length;
}

/** Cluster id → replica, for every cluster; empty when there is no replica. */
export function place(
  clusters: readonly WeightedCluster[],
  replicas: readonly string[],
  options: PlacementOptions = {},
): Map<string, string> {
  const placement = new Map<string, string>();
  const members = [...new Set(replicas)].sort();
  if (members.length === 0) return placement;
  const total = clusters.reduce((n, c) => n + weightOf(c), 0);
  const capacity = (options.loadFactor ?? 1.25) * (total / members.length);
  const points = ring(members, Math.max(1, options.virtualNodes ?? 64));
  const load = new Map(members.map((m) => [m, 0]));
  const ordered = clusters
    .map((c) => ({ c, at: ringHash(c.id) }))
    .sort((a, b) => a.at - b.at || a.c.id.localeCompare(b.c.id));
  for (const { c, at } of ordered) {
    const w = weightOf(c);
    const start = firstAtOrAfter(points, at);
    let chosen: string | undefined;
    for (let i = 0; i < points.length && chosen === undefined; i++) {
      const r = points[(start + i) % points.length]!.replica;
      if (load.get(r)! + w <= capacity) chosen = r;
    }
    // A cluster heavier than any replica's room left: the least loaded replica takes it.
    chosen ??= members.reduce((best, m) => (load.get(m)! < load.get(best)! ? m : best));
    load.set(chosen, load.get(chosen)! + w);
    placement.set(c.id, chosen);
  }
  return placement;
}

/** Each replica's load (sum of the weights of its clusters) under a placement. */
export function loads(
  clusters: readonly WeightedCluster[],
  placement: ReadonlyMap<string, string>,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of clusters) {
    const r = placement.get(c.id);
    if (r !== undefined) out.set(r, (out.get(r) ?? 0) + weightOf(c));
  }
  return out;
}
