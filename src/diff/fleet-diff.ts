import { fieldChanges, maskSecrets, type FieldChange } from "../core/field-diff.js";
import { objectId, objectRef, type KubeObject } from "../core/object.js";

/** One unit's render at one revision, placed on its cluster. */
export interface UnitRender {
  cluster: string;
  environment?: string;
  /** `namespace/name` of the Kustomization. */
  unit: string;
  objects: readonly KubeObject[];
}

export interface ObjectChange {
  id: string;
  ref: string;
  change: "added" | "removed" | "changed";
  fields?: FieldChange[];
}

export interface UnitDiff {
  unit: string;
  change: "added" | "removed" | "changed";
  objects: ObjectChange[];
}

export interface ClusterDiff {
  cluster: string;
  environment?: string;
  units: UnitDiff[];
}

export interface FleetDiff {
  clusters: ClusterDiff[];
  /** Totals over all clusters. */
  summary: { clusters: number; units: number; added: number; changed: number; removed: number };
}

/**
 * What changes on which cluster between two renders of the fleet. Objects are matched by identity
 * (namespace, name, group, kind), so an object that moved between files or was reformatted is no
 * change; Secret values are masked before comparing.
 */
export function diffFleet(base: readonly UnitRender[], head: readonly UnitRender[]): FleetDiff {
  const key = (u: UnitRender) => `${u.cluster}\u0000${u.unit}`;
  const before = new Map(base.map((u) => [key(u), u]));
  const after = new Map(head.map((u) => [key(u), u]));
  const byCluster = new Map<string, ClusterDiff>();
  const clusterOf = (u: UnitRender): ClusterDiff => {
    let c = byCluster.get(u.cluster);
    if (!c)
      byCluster.set(
        u.cluster,
        (c = { cluster: u.cluster, ...(u.environment ? { environment: u.environment } : {}), units: [] }),
      );
    return c;
  };

  for (const k of new Set([...before.keys(), ...after.keys()])) {
    const a = before.get(k);
    const b = after.get(k);
    const objects = diffObjects(a?.objects ?? [], b?.objects ?? []);
    const change = !a ? "added" : !b ? "removed" : "changed";
    if (change === "changed" && objects.length === 0) continue;
    clusterOf((b ?? a)!).units.push({ unit: (b ?? a)!.unit, change, objects });
  }

  const clusters = [...byCluster.values()].sort((x, y) => x.cluster.localeCompare(y.cluster));
  const summary = { clusters: clusters.length, units: 0, added: 0, changed: 0, removed: 0 };
  for (const c of clusters) {
    c.units.sort((x, y) => x.unit.localeCompare(y.unit));
    summary.units += c.units.length;
    for (const u of c.units) for (const o of u.objects) summary[o.change]++;
  }
  return { clusters, summary };
}

function diffObjects(from: readonly KubeObject[], to: readonly KubeObject[]): ObjectChange[] {
  const left = new Map(from.map((o) => [objectId(o), o]));
  const right = new Map(to.map((o) => [objectId(o), o]));
  const out: ObjectChange[] = [];
  for (const [id, a] of left) {
    const b = right.get(id);
    if (!b) {
      out.push({ id, ref: objectRef(a), change: "removed" });
      continue;
    }
    const fields = fieldChanges(...maskSecrets(a, b));
    if (fields.length > 0) out.push({ id, ref: objectRef(b), change: "changed", fields });
  }
  for (const [id, b] of right) if (!left.has(id)) out.push({ id, ref: objectRef(b), change: "added" });
  return out.sort((x, y) => x.ref.localeCompare(y.ref));
}
