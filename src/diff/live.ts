import { readFileSync } from "node:fs";
import { ClusterClient, diffUnit, ownedInventories, parseInventoryId } from "../apply/index.js";
import { InvalidInputError, NotFoundError } from "../core/errors.js";
import { kubeconfigContexts, kubeconfigFromText, type KubeconfigOrigin } from "../core/kube/index.js";
import type { FileTree } from "../core/file-tree.js";
import { clusterOfUnit, type Kustomization } from "../core/flux.js";
import { objectKey } from "../core/object.js";
import type { KubeObject } from "../core/object.js";
import { planRepository } from "../plan/index.js";
import type { RepositoryInput } from "../source/index.js";
import type { ClusterDiff, FleetDiff, UnitDiff, UnitRender } from "./fleet-diff.js";
import { renderUnits } from "./render-units.js";

export interface LiveDiffOptions {
  /** The kubeconfig's path (read here) — or its text in `kubeconfig`. */
  kubeconfigFile?: string;
  kubeconfig?: string;
  /** The plan's cluster; default the kubeconfig's current context. Its context is used when the kubeconfig has one by that name. */
  cluster?: string;
  /** The revision to render; default the work tree (or `main` for a URL). */
  head?: string;
}

/** An object a server-side dry run could not compare (for example a kind the cluster does not serve). */
export interface SkippedObject {
  unit: string;
  ref: string;
  note: string;
}

export interface LiveDiff {
  diff: FleetDiff;
  skipped: SkippedObject[];
}

/** The head revision's units of one cluster, rendered, with their Kustomizations by `namespace/name`. */
interface ClusterPlan {
  cluster: string;
  units: UnitRender[];
  kustomizations: Map<string, Kustomization>;
}

type OwnedInventories = Awaited<ReturnType<typeof ownedInventories>>;

/**
 * What applying the head revision's units of one cluster would change on that live cluster:
 * `diffUnit` (server-side dry runs) per unit, with each unit's previous inventory read from the
 * cluster's owner labels. Units whose objects are on the cluster but that left the plan are
 * reported as removed.
 */
export async function diffLive(repo: RepositoryInput, opts: LiveDiffOptions): Promise<LiveDiff> {
  const file = opts.kubeconfigFile ?? "kubeconfig";
  const text = opts.kubeconfig ?? readKubeconfigFile(file);
  const origin: KubeconfigOrigin = { kind: "file", file };
  const { contexts, current } = kubeconfigContexts(text, origin);
  const cluster = opts.cluster ?? current;
  if (!cluster)
    throw new InvalidInputError("the kubeconfig has no current context; name the cluster with --cluster", {
      file,
      field: "--cluster",
    });
  const plan = await planCluster(repo, opts.head, cluster, opts.cluster ? "--cluster" : "current-context");

  const client = ClusterClient.connect(
    kubeconfigFromText(text, origin, contexts.includes(cluster) ? { context: cluster } : {}),
    {
      timeoutMs: 30_000,
    },
  );
  try {
    const owned = await ownedInventories(client);
    const { units, skipped } = await diffPlannedUnits(client, plan, owned);
    units.push(...removedUnits(plan, owned));
    units.sort((a, b) => a.unit.localeCompare(b.unit));
    const environment = plan.units[0]!.environment;
    return { diff: fleetOf({ cluster, ...(environment ? { environment } : {}), units }), skipped };
  } finally {
    client.close();
  }
}

function readKubeconfigFile(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw new NotFoundError(
      `cannot read the kubeconfig: ${(error as Error).message}`,
      { file, field: "--kubeconfig" },
      { cause: error },
    );
  }
}

/** Plans the head revision and renders the units that run on `cluster`; none is an error naming the clusters there are. */
async function planCluster(
  repo: RepositoryInput,
  head: string | undefined,
  cluster: string,
  field: string,
): Promise<ClusterPlan> {
  const plan = await planRepository(repo, head, false);
  const kustomizations = new Map(
    plan.result.objects.filter((o): o is Kustomization => o.kind === "Kustomization").map((k) => [objectKey(k), k]),
  );
  const units = renderUnits(
    plan.result.objects,
    plan.trees,
    new Map<FileTree, Map<string, KubeObject[]>>(),
    (c) => c === cluster,
  );
  if (units.length === 0) {
    const known = [...new Set([...kustomizations.values()].map(clusterOfUnit))].sort();
    throw new NotFoundError(`no unit of the plan runs on cluster '${cluster}' (clusters: ${known.join(", ")})`, {
      field,
    });
  }
  return { cluster, units, kustomizations };
}

/** Dry-runs each planned unit against its previous inventory; a unit is "added" when nothing of it is on the cluster yet. */
async function diffPlannedUnits(
  client: ClusterClient,
  plan: ClusterPlan,
  owned: OwnedInventories,
): Promise<{ units: UnitDiff[]; skipped: SkippedObject[] }> {
  const units: UnitDiff[] = [];
  const skipped: SkippedObject[] = [];
  for (const u of plan.units) {
    const k = plan.kustomizations.get(u.unit)!;
    const previous = owned.get(u.unit);
    const result = await diffUnit(client, {
      unit: { name: k.metadata.name, namespace: k.metadata.namespace },
      objects: u.objects,
      previousInventory: previous ?? [],
      prune: k.spec.prune === true,
    });
    for (const s of result.skipped) skipped.push({ unit: u.unit, ...s });
    if (result.changes.length === 0) continue;
    const added = !previous && result.unchanged.length === 0 && result.changes.every((c) => c.change === "added");
    units.push({ unit: u.unit, change: added ? "added" : "changed", objects: result.changes });
  }
  return { units, skipped };
}

/** Units that applied objects here (in a namespace of the plan's units) but are no longer planned: Flux garbage-collects them. */
function removedUnits(plan: ClusterPlan, owned: OwnedInventories): UnitDiff[] {
  const namespaces = new Set(plan.units.map((u) => plan.kustomizations.get(u.unit)!.metadata.namespace));
  const out: UnitDiff[] = [];
  for (const [unit, entries] of owned) {
    if (plan.kustomizations.has(unit) || !namespaces.has(unit.split("/")[0]!)) continue;
    out.push({
      unit,
      change: "removed",
      objects: entries
        .map((e) => ({ id: e.id, ref: refOfId(e.id), change: "removed" as const }))
        .sort((a, b) => a.ref.localeCompare(b.ref)),
    });
  }
  return out;
}

function refOfId(id: string): string {
  const { namespace, name, kind } = parseInventoryId(id);
  return namespace ? `${kind}/${namespace}/${name}` : `${kind}/${name}`;
}

function fleetOf(cluster: ClusterDiff): FleetDiff {
  const clusters = cluster.units.length > 0 ? [cluster] : [];
  const summary = { clusters: clusters.length, units: cluster.units.length, added: 0, changed: 0, removed: 0 };
  for (const u of cluster.units) for (const o of u.objects) summary[o.change]++;
  return { clusters, summary };
}
