import type { FileTree } from "../../core/file-tree.js";
import type { GitRepository, Kustomization } from "../../core/flux.js";
import type { KubeObject } from "../../core/object.js";
import { cleanPath, LABEL_ENVIRONMENT } from "../../plan/index.js";
import { fluxBuildSpecOf, renderFlux } from "../../render/index.js";
import { clusterOfUnit } from "../../status/table.js";
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
    const environment = k.metadata.labels?.[LABEL_ENVIRONMENT];
    out.push({ cluster, ...(environment ? { environment } : {}), unit: `${k.metadata.namespace}/${k.metadata.name}`, objects: rendered });
  }
  return out;
}
