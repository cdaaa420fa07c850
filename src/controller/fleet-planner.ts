import type { Logger } from "pino";
import { applyUnit } from "../apply/apply.js";
import type { ClusterClient } from "../core/kube/index.js";
import { describeError } from "../core/errors.js";
import type { FileTree } from "../core/file-tree.js";
import type { InventoryEntry } from "../core/flux.js";
import { silentLogger } from "../core/log.js";
import type { KubeObject } from "../core/object.js";
import { cleanPath, discoverSources, FLUX_NAMESPACE, planFleet, type Sources } from "../plan/index.js";
import { assertFleetLayout } from "../plan/missing-layout.js";
import { renderFlux } from "../render/index.js";
import { GitSource, pollDefaultBranch, type SourceSpec } from "../source/index.js";
import type { Controller } from "./controller.js";

const PLAN_UNIT = { namespace: FLUX_NAMESPACE, name: "flotilla-plan" };
const BOOTSTRAP_UNIT = { namespace: FLUX_NAMESPACE, name: "flotilla-bootstrap" };
const INVENTORY_CONFIGMAP = "flotilla-plan-inventory";

export interface FleetPlannerOptions {
  /** The platform repository, as the controller fetches it. */
  repoUrl: string;
  /** A Secret-shaped credential for the repository (username/password, bearerToken, identity…). */
  secret?: Record<string, string>;
  cacheDir?: string;
  logger?: Logger;
}

/**
 * `flotilla controller --repo URL`: puts the repository's fleet on the management cluster.
 *
 * A repository that already has Flux objects under a provider's `mgmt` is bootstrapped as
 * `flux bootstrap` would: its GitRepositories and the Kustomizations of the `mgmt` paths are
 * applied once; from then on the `mgmt` unit manages them from git. A repository laid out by
 * convention gets its plan: the `main` (and `release`) GitRepositories, then after every new
 * revision the planned Kustomizations, applied as one unit with an inventory kept in a ConfigMap,
 * so a cluster removed from git has its units deleted (and their objects pruned).
 */
export class FleetPlanner {
  private readonly log: Logger;
  private sources: Sources | undefined;
  /** The repository's default branch (`main`, else `master`), which the convention's `main` source follows. */
  private mainBranch = "main";
  /** The plan's last warnings, logged again only when they change. */
  private lastWarnings = "";
  private planning = Promise.resolve();

  constructor(
    private readonly controller: Controller,
    private readonly options: FleetPlannerOptions,
  ) {
    this.log = (options.logger ?? silentLogger).child({ component: "fleet-planner" });
  }

  private get mgmt(): ClusterClient {
    return this.controller.managementClient;
  }

  /** Reads the repository and applies the bootstrap objects; returns the repository's mode. */
  async bootstrap(): Promise<Sources["mode"]> {
    const main = await this.fetchMain();
    const releaseTag = await this.highestTag();
    const sources = discoverSources(main, {
      repoUrl: this.options.repoUrl,
      ...(releaseTag ? { releaseTag } : {}),
      defaultBranch: this.mainBranch,
      render: renderFlux,
    });
    assertFleetLayout(main, sources.layout);
    this.sources = sources;
    for (const w of sources.warnings) this.log.warn(w);
    const mgmtPaths = new Set(sources.layout.providers.filter((p) => p.hasMgmt).map((p) => `${p.path}/mgmt`));
    const objects: KubeObject[] =
      sources.mode === "flux"
        ? [...sources.gitRepositories, ...sources.kustomizations.filter((k) => mgmtPaths.has(cleanPath(k.spec.path)))]
        : [...sources.gitRepositories];
    await this.ensureNamespaces(objects);
    await applyUnit(
      this.mgmt,
      { unit: BOOTSTRAP_UNIT, objects, prune: false, wait: false, timeoutMs: 60_000 },
      { logger: this.log },
    );
    this.log.info({ mode: sources.mode, objects: objects.length }, "bootstrapped the fleet");
    if (sources.mode === "convention") {
      this.controller.onArtifact((key) => {
        if (sources.gitRepositories.some((g) => `${g.metadata.namespace}/${g.metadata.name}` === key)) this.replan();
      });
      this.controller.onClusterAcquired((cluster) => {
        if (cluster === "mgmt") this.replan();
      });
      this.replan();
    }
    return sources.mode;
  }

  /** Waits for the plan being applied, if any (tests). */
  settled(): Promise<void> {
    return this.planning;
  }

  private replan(): void {
    // With replicas, only the holder of the management cluster's Lease applies the plan.
    if (!this.controller.holds("mgmt")) return;
    this.planning = this.planning
      .then(() => this.applyPlan())
      .catch((error: unknown) =>
        this.log.error({ err: describeError(error) }, "the fleet plan failed; keeping the last one"),
      );
  }

  private async applyPlan(): Promise<void> {
    const first = this.sources;
    if (!first) return;
    const trees: Record<string, FileTree> = {};
    for (const g of first.gitRepositories) {
      const artifact = this.controller.artifact(`${g.metadata.namespace}/${g.metadata.name}`);
      if (!artifact) return; // every source needs its artifact first
      trees[g.metadata.name] = artifact.tree;
    }
    const mainTree = trees.main;
    if (!mainTree) return;
    // The newest main decides the layout and flotilla.yaml; sources stay as bootstrapped.
    const sources = {
      ...discoverSources(mainTree, {
        repoUrl: this.options.repoUrl,
        defaultBranch: this.mainBranch,
        render: renderFlux,
      }),
      gitRepositories: first.gitRepositories,
    };
    const plan = planFleet(sources, trees, { render: renderFlux });
    // A unit that does not render is applied all the same (its status carries the error); a cluster without its source waits; the others go on.
    for (const e of plan.errors)
      this.log.warn({ unit: e.unit, path: e.path, err: e.message }, "part of the fleet plan has an error");
    const warnings = plan.warnings.join("\n");
    if (warnings !== this.lastWarnings) for (const w of plan.warnings) this.log.warn(w);
    this.lastWarnings = warnings;
    await this.ensureNamespaces(plan.objects);
    const previousInventory = await this.readInventory();
    // New units are recorded before they are created, so a planner killed in between still deletes them once they leave git.
    const recordIntent = (entries: InventoryEntry[]) => this.writeInventory(entries);
    // flotilla.yaml's rollouts go with the units (as Rollout objects), so that removing one removes its Rollout.
    const objects: KubeObject[] = [...plan.objects, ...plan.rollouts];
    const result = await applyUnit(
      this.mgmt,
      { unit: PLAN_UNIT, objects, previousInventory, prune: true, wait: false, timeoutMs: 60_000, recordIntent },
      { logger: this.log },
    );
    await this.writeInventory(result.inventory);
    if (result.summary)
      this.log.info({ changes: result.summary, units: plan.objects.length }, "applied the fleet plan");
  }

  /** The namespaces the plan's objects live in, created when missing and never deleted by Flotilla. */
  private async ensureNamespaces(objects: readonly KubeObject[]): Promise<void> {
    const namespaces = new Set(objects.map((o) => o.metadata.namespace).filter((n): n is string => !!n));
    for (const name of namespaces) {
      await this.mgmt.request(
        "POST",
        "/api/v1/namespaces",
        { apiVersion: "v1", kind: "Namespace", metadata: { name } },
        { allow: [409], count: "create" },
      );
    }
  }

  private async readInventory(): Promise<InventoryEntry[]> {
    const res = await this.mgmt.request<{ data?: { entries?: string } }>(
      "GET",
      `/api/v1/namespaces/${FLUX_NAMESPACE}/configmaps/${INVENTORY_CONFIGMAP}`,
      undefined,
      { allow: [404], count: "get" },
    );
    if (res.status === 404 || !res.body.data?.entries) return [];
    return JSON.parse(res.body.data.entries) as InventoryEntry[];
  }

  private async writeInventory(entries: InventoryEntry[]): Promise<void> {
    const body = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: INVENTORY_CONFIGMAP, namespace: FLUX_NAMESPACE },
      data: { entries: JSON.stringify(entries) },
    };
    await this.mgmt.request(
      "PATCH",
      `/api/v1/namespaces/${FLUX_NAMESPACE}/configmaps/${INVENTORY_CONFIGMAP}?fieldManager=flotilla&force=true`,
      body,
      { contentType: "application/apply-patch+yaml", count: "apply" },
    );
  }

  private async fetchMain(): Promise<FileTree> {
    const { branch, artifact } = await pollDefaultBranch(this.sourceSpec(), { logger: this.log });
    this.mainBranch = branch;
    return artifact.tree;
  }

  private async highestTag(): Promise<string | undefined> {
    try {
      return (await this.source({ semver: "*" }).poll()).artifact.ref;
    } catch {
      return undefined;
    }
  }

  private sourceSpec(): Omit<SourceSpec, "ref"> {
    return {
      url: this.options.repoUrl,
      ...(this.options.secret ? { secret: this.options.secret } : {}),
      ...(this.options.cacheDir ? { cacheDir: this.options.cacheDir } : {}),
    };
  }

  private source(ref: { branch?: string; semver?: string }): GitSource {
    return new GitSource({ ...this.sourceSpec(), ref }, { logger: this.log });
  }
}
