import { CycleError } from "../core/errors.js";
import { clusterOfUnit, dependencyKey, type Kustomization } from "../core/flux.js";
import { groupOf, objectKey, type KubeObject } from "../core/object.js";

/**
 * Infers `dependsOn` beyond what Flux writes: within one cluster, a unit that renders a custom
 * resource whose CRD another unit renders depends on that unit; so does a unit that puts objects
 * into a namespace that only another unit creates. Explicit dependencies are kept. Mutates and
 * returns the units; a cycle is an error that prints it.
 */
export function inferDependencies(
  units: Kustomization[],
  renders: ReadonlyMap<string, readonly KubeObject[]>,
): Kustomization[] {
  const byCluster = new Map<string, Kustomization[]>();
  for (const u of units) {
    const c = clusterOfUnit(u);
    let list = byCluster.get(c);
    if (!list) byCluster.set(c, (list = []));
    list.push(u);
  }
  for (const members of byCluster.values()) {
    const crdOwner = new Map<string, Set<string>>();
    const nsOwner = new Map<string, Set<string>>();
    for (const u of members) {
      for (const o of renders.get(objectKey(u)) ?? []) {
        if (o.kind === "CustomResourceDefinition") {
          const spec = o.spec as { group?: string; names?: { kind?: string } } | undefined;
          if (spec?.group && spec.names?.kind) addTo(crdOwner, `${spec.group}/${spec.names.kind}`, objectKey(u));
        } else if (o.kind === "Namespace" && o.apiVersion === "v1" && o.metadata.name) {
          addTo(nsOwner, o.metadata.name, objectKey(u));
        }
      }
    }
    for (const u of members) {
      const own = objectKey(u);
      const needs = new Set<string>();
      const createsNs = new Set<string>();
      for (const o of renders.get(own) ?? []) if (o.kind === "Namespace") createsNs.add(o.metadata.name ?? "");
      for (const o of renders.get(own) ?? []) {
        const owners = crdOwner.get(`${groupOf(o.apiVersion)}/${o.kind}`);
        if (owners && !owners.has(own)) for (const x of owners) needs.add(x);
        const ns = o.metadata.namespace;
        if (ns && !createsNs.has(ns)) {
          const nsOwners = nsOwner.get(ns);
          if (nsOwners && nsOwners.size === 1 && !nsOwners.has(own)) for (const x of nsOwners) needs.add(x);
        }
      }
      const explicit = new Set((u.spec.dependsOn ?? []).map((d) => dependencyKey(u, d)));
      for (const dep of [...needs].sort()) {
        if (explicit.has(dep)) continue;
        const [namespace, name] = dep.split("/") as [string, string];
        u.spec.dependsOn = [
          ...(u.spec.dependsOn ?? []),
          namespace === u.metadata.namespace ? { name } : { name, namespace },
        ];
      }
    }
  }
  assertAcyclic(units);
  return units;
}

function addTo(map: Map<string, Set<string>>, k: string, v: string): void {
  let set = map.get(k);
  if (!set) map.set(k, (set = new Set()));
  set.add(v);
}

/** Throws a CycleError naming the units of the first dependency cycle found. */
export function assertAcyclic(units: readonly Kustomization[]): void {
  const edges = new Map(units.map((u) => [objectKey(u), (u.spec.dependsOn ?? []).map((d) => dependencyKey(u, d))]));
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (n: string): void => {
    if (state.get(n) === "done") return;
    if (state.get(n) === "visiting") {
      throw new CycleError("dependency", [...stack.slice(stack.indexOf(n)), n], {
        object: `Kustomization/${n}`,
        field: "spec.dependsOn",
      });
    }
    state.set(n, "visiting");
    stack.push(n);
    for (const m of edges.get(n) ?? []) if (edges.has(m)) visit(m);
    stack.pop();
    state.set(n, "done");
  };
  for (const n of [...edges.keys()].sort()) visit(n);
}
