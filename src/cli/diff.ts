import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { parse as parseYaml } from "yaml";
import { ClusterClient, credentialsFromKubeconfig, diffUnit, ownedInventories, parseInventoryId } from "../apply/index.js";
import { InvalidInputError, NotFoundError } from "../core/errors.js";
import type { FileTree } from "../core/file-tree.js";
import { clusterOfUnit, type Kustomization } from "../core/flux.js";
import type { KubeObject } from "../core/object.js";
import { planRepository } from "../plan/index.js";
import { openRepositoryInput, type RepositoryInput } from "../source/index.js";
import { diffFleet, type ClusterDiff, type FleetDiff, type UnitDiff } from "../diff/fleet-diff.js";
import { formatDiffMarkdown, formatDiffText } from "../diff/format-diff.js";
import { renderUnits } from "../diff/render-units.js";

/**
 * `flotilla diff [--repo DIR|URL] --base REF --head REF [--format text|md|json] [--cluster NAME]`:
 * per cluster and unit, what the head revision changes compared with the base — offline, from git
 * alone. `flotilla diff --live --kubeconfig FILE [--cluster NAME] [--head REF]`: what applying the
 * head revision (default: the work tree) to that live cluster would change, through server-side
 * dry runs. Exit 0 no difference, 1 differences, 2 error, as `flux diff`.
 */
export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      repo: { type: "string" },
      base: { type: "string" },
      head: { type: "string" },
      format: { type: "string" },
      json: { type: "boolean" },
      cluster: { type: "string", multiple: true },
      live: { type: "boolean" },
      kubeconfig: { type: "string" },
    },
  });
  const format = values.json ? "json" : (values.format ?? "text");
  if (!["text", "md", "json"].includes(format)) throw new InvalidInputError(`--format must be text, md or json, not '${format}'`, { field: "--format" });
  let diff: FleetDiff;
  if (values.live) {
    if (!values.kubeconfig) throw new InvalidInputError("--live needs --kubeconfig FILE (the cluster to compare with)", { field: "--kubeconfig" });
    if (values.base) throw new InvalidInputError("--live compares --head (default: the work tree) with the cluster; --base is not used", { field: "--base" });
    if ((values.cluster?.length ?? 0) > 1) throw new InvalidInputError("--live compares one cluster; give --cluster once", { field: "--cluster" });
    const live = await diffLive(await openRepositoryInput(values.repo), { kubeconfigFile: values.kubeconfig, ...(values.head ? { head: values.head } : {}), ...(values.cluster?.[0] ? { cluster: values.cluster[0] } : {}) });
    for (const s of live.skipped) process.stderr.write(`note: ${s.unit}: ${s.ref} not applied: ${s.note}\n`);
    diff = live.diff;
  } else {
    if (values.kubeconfig) throw new InvalidInputError("--kubeconfig is only used with --live", { field: "--kubeconfig" });
    if (!values.base || !values.head) throw new InvalidInputError("--base and --head are required", { field: values.base ? "--head" : "--base" });
    diff = await diffRevisions(await openRepositoryInput(values.repo), values.base, values.head, values.cluster);
  }
  process.stdout.write(format === "json" ? `${JSON.stringify(diff, null, 2)}\n` : format === "md" ? formatDiffMarkdown(diff) : formatDiffText(diff));
  return diff.clusters.length > 0 ? 1 : 0;
}

/** Plans and renders both revisions and compares them, sharing renders of identical inputs. */
export async function diffRevisions(repo: RepositoryInput, base: string, head: string, clusters?: string[]): Promise<FleetDiff> {
  const cache = new Map<FileTree, Map<string, KubeObject[]>>();
  const filter = clusters?.length ? (c: string) => clusters.includes(c) : undefined;
  const before = await planRepository(repo, base, false);
  const after = await planRepository(repo, head, false);
  return diffFleet(renderUnits(before.result.objects, before.trees, cache, filter), renderUnits(after.result.objects, after.trees, cache, filter));
}

export interface LiveDiffOptions {
  /** The kubeconfig's path (read here) — or its text in `kubeconfig`. */
  kubeconfigFile?: string;
  kubeconfig?: string;
  /** The plan's cluster; default the kubeconfig's current context. Its context is used when the kubeconfig has one by that name. */
  cluster?: string;
  /** The revision to render; default the work tree (or `main` for a URL). */
  head?: string;
}

/**
 * What applying the head revision's units of one cluster would change on that live cluster:
 * `diffUnit` (server-side dry runs) per unit, with each unit's previous inventory read from the
 * cluster's owner labels. Units whose objects are on the cluster but that left the plan are
 * reported as removed.
 */
export async function diffLive(repo: RepositoryInput, opts: LiveDiffOptions): Promise<{ diff: FleetDiff; skipped: Array<{ unit: string; ref: string; note: string }> }> {
  const source = opts.kubeconfigFile ?? "kubeconfig";
  let text = opts.kubeconfig;
  if (text === undefined) {
    try {
      text = readFileSync(opts.kubeconfigFile ?? "", "utf8");
    } catch (error) {
      throw new NotFoundError(`cannot read the kubeconfig: ${(error as Error).message}`, { file: source, field: "--kubeconfig" }, { cause: error });
    }
  }
  const { contexts, current } = kubeconfigContexts(text, source);
  const cluster = opts.cluster ?? current;
  if (!cluster) throw new InvalidInputError("the kubeconfig has no current context; name the cluster with --cluster", { file: source, field: "--cluster" });

  const head = await planRepository(repo, opts.head, false);
  const kustomizations = new Map(head.result.objects.filter((o): o is Kustomization => o.kind === "Kustomization").map((k) => [`${k.metadata.namespace}/${k.metadata.name}`, k]));
  const units = renderUnits(head.result.objects, head.trees, new Map<FileTree, Map<string, KubeObject[]>>(), (c) => c === cluster);
  if (units.length === 0) {
    const known = [...new Set([...kustomizations.values()].map(clusterOfUnit))].sort();
    throw new NotFoundError(`no unit of the plan runs on cluster '${cluster}' (clusters: ${known.join(", ")})`, { field: opts.cluster ? "--cluster" : "current-context" });
  }

  const client = new ClusterClient(credentialsFromKubeconfig(text, contexts.includes(cluster) ? cluster : undefined), { timeoutMs: 30_000 });
  try {
    const owned = await ownedInventories(client);
    const out: ClusterDiff = { cluster, ...(units[0]!.environment ? { environment: units[0]!.environment } : {}), units: [] };
    const skipped: Array<{ unit: string; ref: string; note: string }> = [];
    const namespaces = new Set<string>();
    for (const u of units) {
      const k = kustomizations.get(u.unit)!;
      namespaces.add(k.metadata.namespace!);
      const previous = owned.get(u.unit);
      const result = await diffUnit(client, { unit: { name: k.metadata.name!, namespace: k.metadata.namespace! }, objects: u.objects, previousInventory: previous ?? [], prune: k.spec.prune === true });
      for (const s of result.skipped) skipped.push({ unit: u.unit, ...s });
      if (result.changes.length === 0) continue;
      const added = !previous && result.unchanged.length === 0 && result.changes.every((c) => c.change === "added");
      out.units.push({ unit: u.unit, change: added ? "added" : "changed", objects: result.changes });
    }
    // Units that applied objects here but are no longer planned: Flux garbage-collects them.
    for (const [unit, entries] of owned) {
      if (kustomizations.has(unit) || !namespaces.has(unit.split("/")[0]!)) continue;
      out.units.push({ unit, change: "removed", objects: entries.map((e) => ({ id: e.id, ref: refOfId(e.id), change: "removed" as const })).sort((a, b) => a.ref.localeCompare(b.ref)) });
    }
    out.units.sort((a, b) => a.unit.localeCompare(b.unit));
    return { diff: fleetOf(out), skipped };
  } finally {
    client.close();
  }
}

function kubeconfigContexts(text: string, file: string): { contexts: string[]; current?: string } {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (error) {
    throw new InvalidInputError(`the kubeconfig is not YAML: ${(error as Error).message}`, { file }, { cause: error });
  }
  const d = (doc ?? {}) as { contexts?: Array<{ name?: string }>; "current-context"?: string };
  const contexts = (Array.isArray(d.contexts) ? d.contexts : []).map((c) => String(c?.name ?? ""));
  return { contexts, ...(d["current-context"] ? { current: String(d["current-context"]) } : {}) };
}

function refOfId(id: string): string {
  const { namespace, name, kind } = parseInventoryId(id);
  return namespace ? `${kind}/${namespace}/${name}` : `${kind}/${name}`;
}

function fleetOf(cluster: ClusterDiff): FleetDiff {
  const clusters = cluster.units.length > 0 ? [cluster] : [];
  const summary = { clusters: clusters.length, units: cluster.units.length, added: 0, changed: 0, removed: 0 };
  for (const u of cluster.units as UnitDiff[]) for (const o of u.objects) summary[o.change]++;
  return { clusters, summary };
}
