import type { Logger } from "pino";
import { applyUnit } from "../apply/apply.js";
import { ClusterClient } from "../apply/client.js";
import { describeError } from "../core/errors.js";
import type { FileTree } from "../core/file-tree.js";
import type { InventoryEntry, Kustomization } from "../core/flux.js";
import { silentLogger } from "../core/log.js";
import type { KubeObject } from "../core/object.js";
import { cleanPath, discoverSources, planFleet } from "../plan/index.js";
import { fluxBuildSpecOf, renderFlux } from "../render/index.js";
import type { GitSource } from "../source/git-source.js";
import { clusterOfUnit } from "../status/table.js";
import { RenderCache } from "./render-cache.js";

/** What the fleet loop knows about one unit after a pass. */
export interface UnitState {
  namespace: string;
  name: string;
  cluster: string;
  ready: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  revision?: string;
  inventory: InventoryEntry[];
}

export interface FleetLoopOptions {
  mgmt: ClusterClient;
  main: GitSource;
  release?: GitSource;
  repoUrl: string;
  /** A fixed release artifact's tree and revision when the repository has no release tag. */
  logger?: Logger;
  onPass?: (states: UnitState[]) => void;
}

/**
 * The reconcile loop `flotilla up` runs: poll the sources, plan the fleet, render each distinct
 * (revision, path, options) once, and apply every unit to its cluster in dependency order, units
 * whose cluster has no kubeconfig Secret yet waiting with ClusterNotReady. Inventories carry over
 * between passes so removed objects are pruned.
 */
export class FleetLoop {
  private readonly states = new Map<string, UnitState>();
  private readonly clients = new Map<string, ClusterClient>();
  private readonly renders = new RenderCache<KubeObject[]>();
  private readonly log: Logger;

  constructor(private readonly options: FleetLoopOptions) {
    this.log = (options.logger ?? silentLogger).child({ component: "fleet-loop" });
  }

  unitStates(): UnitState[] {
    return [...this.states.values()].sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
  }

  /** One pass over the whole fleet. */
  async reconcileOnce(): Promise<UnitState[]> {
    const main = (await this.options.main.poll()).artifact;
    const release = this.options.release ? (await this.options.release.poll()).artifact : undefined;
    const trees: Record<string, FileTree> = { main: main.tree, ...(release ? { release: release.tree } : {}) };
    const revisions: Record<string, string> = { main: main.revision, ...(release ? { release: release.revision } : {}) };
    const sources = discoverSources(main.tree, { repoUrl: this.options.repoUrl, ...(release ? { releaseTag: release.ref } : {}), render: renderFlux });
    const plan = planFleet(sources, trees, { render: renderFlux });
    const units = plan.objects.filter((o): o is Kustomization => o.kind === "Kustomization");
    this.renders.retainRevisions(new Set(Object.values(revisions)));

    const done = new Map<string, boolean>();
    const key = (k: Kustomization) => `${k.metadata.namespace}/${k.metadata.name}`;
    const pending = [...units];
    while (pending.length > 0) {
      const ready = pending.filter((u) => (u.spec.dependsOn ?? []).every((d) => done.has(`${d.namespace ?? u.metadata.namespace}/${d.name}`)));
      const batch = ready.length > 0 ? ready : pending.slice(0, 1);
      for (const u of batch) pending.splice(pending.indexOf(u), 1);
      await Promise.all(
        batch.map(async (u) => {
          const depsOk = (u.spec.dependsOn ?? []).every((d) => done.get(`${d.namespace ?? u.metadata.namespace}/${d.name}`));
          const ok = depsOk ? await this.reconcileUnit(u, trees, revisions) : this.record(u, "False", "DependencyNotReady", "a dependency is not ready");
          done.set(key(u), ok);
        }),
      );
    }
    const wanted = new Set(units.map(key));
    for (const k of this.states.keys()) if (!wanted.has(k)) this.states.delete(k);
    const states = this.unitStates();
    this.options.onPass?.(states);
    return states;
  }

  private record(u: Kustomization, ready: UnitState["ready"], reason: string, message: string, extra: Partial<UnitState> = {}): boolean {
    const k = `${u.metadata.namespace}/${u.metadata.name}`;
    const old = this.states.get(k);
    this.states.set(k, { namespace: u.metadata.namespace, name: u.metadata.name, cluster: clusterOfUnit(u), ready, reason, message, inventory: old?.inventory ?? [], ...(old?.revision ? { revision: old.revision } : {}), ...extra });
    return ready === "True";
  }

  private async target(u: Kustomization): Promise<ClusterClient | undefined> {
    const ref = u.spec.kubeConfig?.secretRef;
    if (!ref) return this.options.mgmt;
    const secret = await this.options.mgmt.request<{ data?: Record<string, string> }>("GET", `/api/v1/namespaces/${u.metadata.namespace}/secrets/${ref.name}`, undefined, { allow: [404] });
    if (secret.status === 404) return undefined;
    const value = secret.body.data?.[ref.key ?? "value"] ?? secret.body.data?.["value.yaml"];
    if (!value) return undefined;
    const kubeconfig = Buffer.from(value, "base64").toString("utf8");
    let client = this.clients.get(kubeconfig);
    if (!client) this.clients.set(kubeconfig, (client = ClusterClient.fromKubeconfig(kubeconfig, { timeoutMs: 15_000, retries: 2 })));
    return client;
  }

  private async reconcileUnit(u: Kustomization, trees: Record<string, FileTree>, revisions: Record<string, string>): Promise<boolean> {
    const source = u.spec.sourceRef.name;
    const tree = trees[source];
    const revision = revisions[source];
    if (!tree || !revision) return this.record(u, "False", "ArtifactFailed", `Source 'GitRepository/${source}' has no artifact`);
    const client = await this.target(u).catch(() => undefined);
    if (!client) return this.record(u, "False", "ClusterNotReady", `kubeconfig Secret '${u.metadata.namespace}/${u.spec.kubeConfig?.secretRef.name}' not found: waiting for the cluster`);
    let objects: KubeObject[];
    const spec = fluxBuildSpecOf(u.spec);
    try {
      objects = await this.renders.get(RenderCache.key(revision, u.spec.path ?? "", spec), revision, () => renderFlux(tree, cleanPath(u.spec.path), spec));
    } catch (error) {
      return this.record(u, "False", "BuildFailed", describeError(error));
    }
    const k = `${u.metadata.namespace}/${u.metadata.name}`;
    try {
      const result = await applyUnit(
        client,
        { unit: { name: u.metadata.name, namespace: u.metadata.namespace }, objects: structuredClone(objects), previousInventory: this.states.get(k)?.inventory ?? [], prune: u.spec.prune, wait: u.spec.wait ?? false, timeoutMs: 60_000 },
        { logger: this.log },
      );
      return this.record(u, "True", "ReconciliationSucceeded", `Applied revision: ${revision}`, { revision, inventory: result.inventory });
    } catch (error) {
      const inventory = (error as { inventory?: InventoryEntry[] }).inventory;
      return this.record(u, "False", (error as Error).name === "HealthCheckFailure" ? "HealthCheckFailed" : "ReconciliationFailed", describeError(error), inventory ? { inventory } : {});
    }
  }
}
