import type { FileTree } from "../core/file-tree.js";
import { clusterOfUnit, type GitRepository, type Kustomization } from "../core/flux.js";
import { objectKey, type KubeObject } from "../core/object.js";
import { cleanPath, LABEL_ENVIRONMENT } from "../plan/index.js";
import { fluxBuildSpecOf, renderFlux } from "../render/index.js";
import type { UnitRender } from "./fleet-diff.js";

/**
 * Renders every unit of a plan from its source's tree, sharing one render per distinct
 * (tree, path, options) across units and across calls that pass the same cache — so a feature
 * used by 1,000 clusters is rendered once per revision.
 */
export function renderUnits(
  objects: ReadonlyArray<GitRepository | Kustomization>,
  trees: Readonly<Record<string, FileTree>>,
  cache: Map<FileTree, Map<string, KubeObject[]>>,
  filter?: (cluster: string) => boolean,
): UnitRender[] {
  const out: UnitRender[] = [];
  const environments = environmentsOf(objects.filter((o): o is Kustomization => o.kind === "Kustomization"));
  for (const o of objects) {
    if (o.kind !== "Kustomization") continue;
    const k = o as Kustomization;
    const cluster = clusterOfUnit(k);
    if (filter && !filter(cluster)) continue;
    const tree = trees[k.spec.sourceRef.name];
    if (!tree) continue;
    const spec = fluxBuildSpecOf(k.spec);
    const key = `${cleanPath(k.spec.path)}\u0000${JSON.stringify(spec)}`;
    let perTree = cache.get(tree);
    if (!perTree) cache.set(tree, (perTree = new Map()));
    let rendered = perTree.get(key);
    if (!rendered) perTree.set(key, (rendered = renderFlux(tree, cleanPath(k.spec.path), spec)));
    const environment = environments.get(cluster);
    out.push({ cluster, ...(environment ? { environment } : {}), unit: objectKey(k), objects: rendered });
  }
  return out;
}

/**
 * Each cluster's environment: the plan's label on its units, else — Flux-compatible repositories
 * carry no such label — the `<env>` of a unit path `providers/<cloud>/<version>/clusters/<env>/…`.
 */
function environmentsOf(kustomizations: readonly Kustomization[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const k of kustomizations) {
    const label = k.metadata.labels?.[LABEL_ENVIRONMENT];
    if (label) out.set(clusterOfUnit(k), label);
  }
  for (const k of kustomizations) {
    const cluster = clusterOfUnit(k);
    const env = /^providers\/[^/]+\/[^/]+\/clusters\/([^/]+)\/./.exec(cleanPath(k.spec.path))?.[1];
    if (env && !out.has(cluster)) out.set(cluster, env);
  }
  return out;
}
