import type { Logger } from "pino";
import {
  ClusterClient,
  ResourceWatch,
  stripManagedFields,
  type LoadedKubeconfig,
  type WatchEventType,
} from "../core/kube/index.js";
import { describeError } from "../core/errors.js";
import {
  dependencyKey,
  kubeconfigOfSecret,
  type GitRepository,
  type Kustomization,
  type KustomizationSpec,
} from "../core/flux.js";
import { GIT_REPOSITORY_API_VERSION, KUSTOMIZATION_API_VERSION } from "../core/flux.js";
import { silentLogger } from "../core/log.js";
import { objectKey, type KubeObject } from "../core/object.js";
import { inferDependencies } from "../plan/dependencies.js";
import { fluxBuildSpecOf } from "../render/index.js";
import { GitSource } from "../source/index.js";
import { urlRefusal } from "../source/url-policy.js";
import { readyCondition } from "../status/conditions.js";
import { Metrics } from "../status/metrics.js";
import { systemClock, type Clock } from "./clock.js";
import {
  identityOf,
  normalizePath,
  reconcileKustomization,
  sourceKeyOf,
  type KustomizationContext,
} from "./kustomization-reconciler.js";
import { ApiManagementCluster } from "./management-cluster.js";
import type { RolloutObject } from "../rollout/index.js";
import {
  patchRolloutStatus,
  RolloutController,
  watchRollouts,
  type RevisionGateResult,
  type RolloutWatches,
} from "./rollout/index.js";
import type { RecordedRender, SecretCredentials, SourceArtifact, TrackedSource } from "./ports.js";
import { FullReconciles } from "./inputs.js";
import { FairQueue } from "./queue.js";
import { UnitIndex } from "./unit-index.js";
import { RenderCache, digest } from "./render-cache.js";
import { RenderWorkers, type RenderWorkerOptions } from "./render-worker.js";
import type { SourceLimits } from "../source/limits.js";
import { reconcileGitRepository, type SourceContext } from "./source-reconciler.js";
import { TargetClusters } from "./targets.js";
import { ClusterOwnership, MANAGEMENT_LANE, type ReplicasConfig } from "./replicas/index.js";

export const FINALIZER = "finalizers.fluxcd.io";
const REQUESTED_AT = "reconcile.fluxcd.io/requestedAt";

export interface ControllerOptions {
  /** The management cluster's kubeconfig: YAML Flotilla wrote (a local cluster), or one loaded from files or in-cluster (core/kube). */
  kubeconfig: string | LoadedKubeconfig;
  /** Let a kubeconfig Secret of a target cluster run an exec credential plugin (`--allow-exec-kubeconfigs`). */
  allowExecKubeconfigs?: boolean;
  /** Reconciles in flight at once (`--concurrent`). */
  concurrency?: number;
  logger?: Logger;
  metrics?: Metrics;
  clock?: Clock;
  cacheDir?: string;
  /**
   * Where to fetch a GitRepository from instead of its `spec.url` (credentials dropped): `flotilla
   * up` serves the repository locally because a local run cannot reach the real remote.
   */
  sourceUrlOverride?: (g: GitRepository) => string | undefined;
  /**
   * Create the namespaces a unit's objects live in when neither the cluster nor the unit has them
   * (`--create-namespaces`, Argo CD's `CreateNamespace=true`). Off by default: Flux fails the unit.
   */
  createNamespaces?: boolean;
  /**
   * Renders run in worker threads with a timeout and a heap limit, their output bounded
   * (`--render-timeout`, `--render-memory`, `--max-render-objects`, `--max-render-size`).
   */
  render?: RenderWorkerOptions;
  /** Size bounds on what sources read (`--max-artifact-size`, `--max-file-size`, `--max-refs-size`). */
  sourceLimits?: SourceLimits;
  /**
   * The service account (in each unit's namespace) that units without `spec.serviceAccountName`
   * act as (`--default-service-account`, Flux's flag). Unset: they act as the controller.
   */
  defaultServiceAccount?: string;
  /** Refuse a Kustomization's `sourceRef` or `dependsOn` in another namespace (`--no-cross-namespace-refs`). */
  noCrossNamespaceRefs?: boolean;
  /** Accept `http://` GitRepository URLs (`--allow-insecure-http`); https, ssh and scp-like are always accepted, local paths never. */
  allowInsecureHttp?: boolean;
  /**
   * Run as one of N active replicas (`--lease-namespace`): clusters are placed on the live replicas
   * and each is written only under its Lease (src/controller/replicas). Unset: one process owns every cluster, no Leases.
   */
  replicas?: ReplicasConfig;
  /**
   * Flux's sharding (`--watch-label-selector`): only Kustomizations matching the selector are
   * watched, e.g. `sharding.fluxcd.io/key in (shard1)` for a shard, `!sharding.fluxcd.io/key` for the main controller.
   */
  watchLabelSelector?: string;
}

type Listener = (sourceKey: string, artifact: SourceArtifact) => void;

/**
 * Events that queue an object at once (counted by `Controller.triggeredBy`): a Kustomization on its
 * kubeconfig Secret or a substituteFrom source changing, a GitRepository on a poll request (webhook,
 * `up` following its repository).
 */
export type TriggerCause = "kubeconfig Secret" | "ConfigMap substituteFrom" | "Secret substituteFrom" | "poll request";

/**
 * The controller: watches GitRepository and Kustomization objects in all namespaces on the
 * management cluster and reconciles them as Flux's source- and kustomize-controllers do, through
 * one fair work queue (lanes per target cluster). New source revisions requeue their
 * Kustomizations at once; a Kustomization that becomes Ready requeues its dependents; a kubeconfig
 * Secret that appears requeues the units waiting for it, and a changed `substituteFrom` ConfigMap
 * or Secret the units that read it. Everything it needs to resume after a
 * crash is on the objects (status, inventory), none of it in memory.
 */
export class Controller {
  readonly metrics: Metrics;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly mgmtClient: ClusterClient;
  private readonly mgmt: ApiManagementCluster;
  private readonly targets: TargetClusters;
  private readonly queue: FairQueue;
  private readonly renderCache = new RenderCache<RecordedRender>();
  /** Each unit's last full reconcile in this process: empty after a restart, so every unit's first reconcile is full. */
  private readonly fullReconciles = new FullReconciles();
  /** The units by lane, namespace and dependency, so that no event scans the fleet. */
  private readonly index = new UnitIndex();
  private readonly renderWorkers: RenderWorkers;
  /** Renders for dependency inference by revision, path and spec; a failed one stays failed for its revision. */
  private readonly inferenceRenders = new Map<string, Promise<KubeObject[]>>();
  private readonly kustomizations = new Map<string, Kustomization>();
  private readonly gitRepositories = new Map<string, GitRepository>();
  private readonly artifacts = new Map<string, SourceArtifact>();
  private readonly trackers = new Map<string, { id: string; source: GitSource }>();
  private readonly watches: Array<ResourceWatch<KubeObject>> = [];
  private readonly listeners: Listener[] = [];
  /** Waves and windows (src/rollout): which revision each unit of a rolled-out source may apply now. */
  private readonly rollouts: RolloutController;
  private rolloutWatches: RolloutWatches | undefined;
  private started = false;
  /** Requeues by cause and unit (`<cause> <namespace>/<name>`), so tests can assert why a unit ran. */
  private readonly triggers = new Map<string, number>();
  /** Which clusters this process may write to: all of them, or with replicas those whose Lease it holds. */
  private readonly ownership: ClusterOwnership;

  constructor(private readonly options: ControllerOptions) {
    this.log = (options.logger ?? silentLogger).child({ component: "controller" });
    this.clock = options.clock ?? systemClock;
    this.metrics = options.metrics ?? new Metrics();
    const userAgent = options.replicas ? `flotilla-controller/${options.replicas.identity}` : "flotilla";
    this.mgmtClient =
      typeof options.kubeconfig === "string"
        ? ClusterClient.fromKubeconfig(options.kubeconfig, {
            timeoutMs: 30_000,
            sockets: managementSockets(options.concurrency),
            userAgent,
          })
        : ClusterClient.connect(options.kubeconfig, {
            timeoutMs: 30_000,
            sockets: managementSockets(options.concurrency),
            userAgent,
          });
    this.mgmt = new ApiManagementCluster(this.mgmtClient);
    this.targets = new TargetClusters(this.mgmtClient, this.log, {
      createNamespaces: options.createNamespaces ?? false,
      allowExecKubeconfigs: options.allowExecKubeconfigs ?? false,
      userAgent,
    });
    this.queue = new FairQueue({ concurrency: options.concurrency ?? 10, clock: this.clock });
    this.metrics.onCollect(() => this.collectMetrics());
    this.ownership = new ClusterOwnership(this.mgmtClient, options.replicas, {
      watchLabelSelector: options.watchLabelSelector,
      clusters: () => this.clusterWeights(),
      queueDepth: () => this.queue.stats().queued,
      metrics: this.metrics,
      clock: this.clock,
      logger: this.log,
    });
    // A cluster taken over (from a replica that died, left, or gave it away) gets every unit reconciled, nothing assumed.
    this.ownership.onAcquired((cluster) => {
      for (const k of this.kustomizations.values()) if (laneOf(k) === cluster) this.enqueue(k);
      if (cluster === MANAGEMENT_LANE)
        for (const key of this.gitRepositories.keys()) this.queue.add(`GitRepository/${key}`, "sources");
    });
    this.rollouts = new RolloutController({
      kustomizations: () => this.kustomizations.values(),
      newest: (key) => this.artifacts.get(key),
      artifactAt: async (key, revision) => this.trackers.get(key)?.source.artifactAt(revision),
      requeue: (k) => this.enqueue(k),
      patchStatus: (r, status) => patchRolloutStatus(this.mgmtClient, r, status),
      event: (o, type, reason, message) => this.mgmt.event(o, type, reason, message),
      clock: this.clock,
      logger: this.log.child({ component: "rollouts" }),
    });
    this.renderWorkers = new RenderWorkers({ ...options.render, logger: this.log });
  }

  /** The management cluster's client (shared with the fleet planner and `flotilla up`). */
  get managementClient(): ClusterClient {
    return this.mgmtClient;
  }

  /** Lists and watches the objects, then starts reconciling. */
  async start(): Promise<void> {
    const creds = this.mgmtClient;
    const watch = <T extends KubeObject>(
      path: string,
      on: (type: WatchEventType, o: T) => void,
      metadataOnly = false,
    ) => {
      const w = new ResourceWatch<T>(creds, path, { onEvent: on }, this.log, {
        metadataOnly,
        transform: stripManagedFields,
      });
      this.watches.push(w as unknown as ResourceWatch<KubeObject>);
      return w.start();
    };
    await Promise.all([
      watch<GitRepository>(`/apis/${GIT_REPOSITORY_API_VERSION}/gitrepositories`, (t, o) => this.onGitRepository(t, o)),
      watch<Kustomization>(
        `/apis/${KUSTOMIZATION_API_VERSION}/kustomizations${selectorQuery(this.options.watchLabelSelector)}`,
        (t, o) => this.onKustomization(t, o),
      ),
      watch<KubeObject>("/api/v1/secrets", (t, o) => this.onReferenced("Secret", t, o), true),
      watch<KubeObject>("/api/v1/configmaps", (t, o) => this.onReferenced("ConfigMap", t, o), true),
    ]);
    this.rolloutWatches = watchRollouts(creds, this.rollouts, this.log);
    this.queue.start((key) => this.handle(key));
    await this.ownership.start();
    this.started = true;
    this.log.info(
      { gitRepositories: this.gitRepositories.size, kustomizations: this.kustomizations.size },
      "controller started",
    );
  }

  /** Whether the caches are synced and the queue runs (`/readyz`). */
  ready(): boolean {
    return this.started && this.watches.every((w) => w.hasSynced());
  }

  /**
   * Before `stop` on SIGTERM: with replicas, lets the applies in flight finish and releases this
   * replica's Leases, so the survivors take its clusters at once. Nothing without replicas.
   */
  drain(): Promise<void> {
    return this.ownership.stop();
  }

  /** Whether this process may write to a cluster (a lane: `<namespace>/<kubeconfig Secret>`, or `mgmt`) now. */
  owns(cluster: string): boolean {
    return this.ownership.owns(cluster);
  }

  /** Whether the cluster is this process's (with replicas: its Lease held), even while the fence waits for a renewal. */
  holds(cluster: string): boolean {
    return this.ownership.holds(cluster);
  }

  /** Called with each cluster this replica takes over (the management cluster is `mgmt`). */
  onClusterAcquired(listener: (cluster: string) => void): void {
    this.ownership.onAcquired(listener);
  }

  /** This replica's view of the replica set (undefined without replicas). */
  replicaStatus(): ReturnType<ClusterOwnership["status"]> {
    return this.ownership.status();
  }

  stop(): void {
    this.ownership.halt();
    this.queue.stop();
    for (const w of this.watches) void w.stop();
    this.rolloutWatches?.stop();
    this.targets.close();
    this.mgmtClient.close();
    void this.renderWorkers.close();
  }

  /** The clusters (lanes) replicas place, weighted by their units; the management cluster counts while it has units or sources. */
  private clusterWeights(): Array<{ id: string; weight: number }> {
    const units = new Map<string, number>();
    for (const k of this.kustomizations.values()) units.set(laneOf(k), (units.get(laneOf(k)) ?? 0) + 1);
    if (this.gitRepositories.size > 0 && !units.has(MANAGEMENT_LANE)) units.set(MANAGEMENT_LANE, 1);
    return [...units].map(([id, weight]) => ({ id, weight }));
  }

  /** Polls a GitRepository now (push webhook, `flotilla up` seeing a new commit). */
  requestPoll(sourceKey: string): void {
    if (!this.gitRepositories.has(sourceKey)) return;
    this.countTrigger("poll request", sourceKey);
    this.queue.add(`GitRepository/${sourceKey}`, "sources");
  }

  /** Polls every GitRepository whose URL matches. */
  requestPollOfUrl(matches: (url: string) => boolean): number {
    let n = 0;
    for (const [key, g] of this.gitRepositories) {
      if (matches(g.spec.url)) {
        this.requestPoll(key);
        n++;
      }
    }
    return n;
  }

  /** Called with each new artifact a GitRepository stores. */
  onArtifact(listener: Listener): void {
    this.listeners.push(listener);
  }

  artifact(sourceKey: string): SourceArtifact | undefined {
    return this.artifacts.get(sourceKey);
  }

  gitRepositoryList(): GitRepository[] {
    return [...this.gitRepositories.values()];
  }

  /** The Rollouts (waves and windows), with their latest status. */
  rolloutList(): RolloutObject[] {
    return this.rollouts.list();
  }

  kustomizationList(): Kustomization[] {
    return [...this.kustomizations.values()];
  }

  /** Requests made so far to the workload cluster of a kubeconfig (a kubeconfig Secret's text), by verb; undefined: none. */
  workloadRequests(kubeconfig: string): Readonly<Record<string, number>> | undefined {
    return this.targets.requestCounts(kubeconfig);
  }

  /** Requests and writes made so far to every workload cluster. */
  workloadTotals(): { requests: number; writes: number } {
    return this.targets.totals();
  }

  /** Request counts and the queue, copied into their gauges at each scrape. */
  private collectMetrics(): void {
    for (const [verb, n] of Object.entries(this.mgmtClient.counts))
      this.metrics.kubeRequests.set({ target: "management", verb }, n);
    for (const [verb, n] of Object.entries(this.targets.countsByVerb()))
      this.metrics.kubeRequests.set({ target: "workload", verb }, n);
    for (const [state, n] of Object.entries(this.queue.stats())) this.metrics.queue.set({ state }, n);
  }

  /** Resolves when no reconcile is queued or running (scheduled requeues do not count). */
  whenIdle(): Promise<void> {
    return this.queue.whenIdle();
  }

  private onGitRepository(type: WatchEventType, g: GitRepository): void {
    const key = objectKey(g);
    const before = this.gitRepositories.get(key);
    if (type === "DELETED") {
      this.gitRepositories.delete(key);
      this.artifacts.delete(key);
      this.trackers.delete(key);
      this.metrics.forget("GitRepository", g.metadata.namespace ?? "", g.metadata.name ?? "");
      this.queue.forget(`GitRepository/${key}`);
      return;
    }
    this.gitRepositories.set(key, g);
    if (!before || specChanged(before, g)) this.queue.add(`GitRepository/${key}`, "sources");
    if (!before) for (const k of this.kustomizations.values()) if (sourceKeyOf(k) === key) this.enqueue(k);
  }

  private onKustomization(type: WatchEventType, k: Kustomization): void {
    const key = objectKey(k);
    const before = this.kustomizations.get(key);
    if (type === "DELETED") {
      this.kustomizations.delete(key);
      this.fullReconciles.forget(key);
      this.index.delete(key);
      this.metrics.forget("Kustomization", k.metadata.namespace, k.metadata.name);
      this.queue.forget(`Kustomization/${key}`);
      return;
    }
    this.kustomizations.set(key, k);
    this.index.set(
      key,
      laneOf(k),
      k.metadata.namespace,
      (k.spec.dependsOn ?? []).map((d) => dependencyKey(k, d)),
    );
    this.rollouts.onUnit(k);
    if (!before || specChanged(before, k)) this.enqueue(k);
  }

  /**
   * A kubeconfig Secret that appears (or changes while its units fail) requeues the units waiting
   * for it; a ConfigMap or Secret named in `postBuild.substituteFrom` requeues its units whenever it
   * changes, so new values roll out at once rather than at the next interval.
   */
  private onReferenced(kind: "Secret" | "ConfigMap", type: WatchEventType, o: KubeObject): void {
    if (type !== "ADDED" && type !== "MODIFIED") return;
    for (const key of this.index.inNamespace(o.metadata.namespace ?? "")) {
      const k = this.kustomizations.get(key);
      if (!k) continue;
      const substitutes = (k.spec.postBuild?.substituteFrom ?? []).some(
        (r) => r.kind === kind && r.name === o.metadata.name,
      );
      const kubeconfig = kind === "Secret" && k.spec.kubeConfig?.secretRef.name === o.metadata.name;
      if (substitutes) this.enqueue(k, `${kind} substituteFrom`);
      else if (kubeconfig && (type === "ADDED" || !isReadyNow(k))) this.enqueue(k, "kubeconfig Secret");
    }
  }

  private enqueue(k: Kustomization, cause?: TriggerCause): void {
    // Every replica watches every unit; each queues only those of the clusters it owns.
    if (!this.ownership.holds(laneOf(k))) return;
    if (cause) this.countTrigger(cause, objectKey(k));
    this.queue.add(`Kustomization/${objectKey(k)}`, laneOf(k));
  }

  private countTrigger(cause: TriggerCause, key: string): void {
    this.triggers.set(`${cause} ${key}`, (this.triggers.get(`${cause} ${key}`) ?? 0) + 1);
  }

  /** How often a cause queued the object `namespace/name` at once (rather than at its interval). */
  triggeredBy(cause: TriggerCause, key: string): number {
    return this.triggers.get(`${cause} ${key}`) ?? 0;
  }

  private async handle(item: string): Promise<void> {
    const slash = item.indexOf("/");
    const kind = item.slice(0, slash);
    const key = item.slice(slash + 1);
    try {
      const k = kind === "GitRepository" ? undefined : this.kustomizations.get(key);
      if (kind === "GitRepository") await this.handleGitRepository(key);
      else if (k && (await this.ownership.run(laneOf(k), () => this.handleKustomization(key))) === "later")
        // Held, but its fence is closed until the next renewal (a slow round): not dropped, tried again.
        this.queue.addAfter(item, laneOf(k), this.ownership.retryMs);
    } catch (error) {
      // A reconciler reports its own failures in status; this is the management cluster failing.
      this.log.error({ object: item, err: describeError(error) }, "reconcile failed; retrying");
      const k = this.kustomizations.get(key);
      this.queue.addAfter(item, kind === "GitRepository" || !k ? "sources" : laneOf(k), 5_000);
    }
  }

  private async handleGitRepository(key: string): Promise<void> {
    const g = this.gitRepositories.get(key);
    if (!g) return;
    const override = this.options.sourceUrlOverride?.(g);
    const effective: GitRepository = override ? { ...g, spec: { ...g.spec, url: override, secretRef: undefined } } : g;
    const outcome = await reconcileGitRepository(effective, this.sourceContext());
    if (effective !== g && effective.status) g.status = effective.status;
    if (outcome.requeueAfterMs !== undefined)
      this.queue.addAfter(`GitRepository/${key}`, "sources", outcome.requeueAfterMs);
  }

  private async handleKustomization(key: string): Promise<void> {
    const k = this.kustomizations.get(key);
    if (!k) return;
    if (k.metadata.deletionTimestamp) {
      await this.finalize(k);
      return;
    }
    if (!(k.metadata.finalizers ?? []).includes(FINALIZER)) {
      const updated = await this.mgmt.setFinalizers(k, [...(k.metadata.finalizers ?? []), FINALIZER]);
      if (!updated) {
        // Changed meanwhile (409) or deleted (404): try again with what the watch delivers by then.
        this.queue.addAfter(`Kustomization/${key}`, laneOf(k), 1_000);
        return;
      }
      k.metadata = { ...k.metadata, ...updated.metadata };
    }
    const inferred = await this.inferredDependencies(k);
    const effective: Kustomization =
      inferred.length > 0 ? { ...k, spec: { ...k.spec, dependsOn: [...(k.spec.dependsOn ?? []), ...inferred] } } : k;
    const gated = this.rolloutGate(k);
    if (gated === "held") return;
    // Outside its maintenance window a unit corrects drift without pruning.
    const gatedUnit = gated && !gated.prune ? { ...effective, spec: { ...effective.spec, prune: false } } : effective;
    const outcome = await reconcileKustomization(
      gatedUnit,
      this.kustomizationContext(gated ? { [sourceKeyOf(k)]: gated.artifact } : undefined, laneOf(k)),
    );
    if (gatedUnit !== effective && gatedUnit.status) effective.status = gatedUnit.status;
    if (effective !== k && effective.status) k.status = effective.status;
    if (outcome.ready === "True") {
      for (const dependent of this.index.dependentsOf(key)) {
        const other = this.kustomizations.get(dependent);
        if (other && !upToDate(other, this.artifacts)) this.enqueue(other);
      }
    }
    if (outcome.requeueAfterMs !== undefined)
      this.queue.addAfter(`Kustomization/${key}`, laneOf(k), outcome.requeueAfterMs);
  }

  /**
   * Dependencies Flux would need written out, inferred as the plan infers them: a unit that renders
   * a custom resource whose CRD another unit of the same cluster renders depends on that unit (and
   * likewise for namespaces), so a repository in Flux's shape also gets its CRDs applied first.
   */
  private async inferredDependencies(k: Kustomization): Promise<Array<{ name: string; namespace: string }>> {
    const lane = laneOf(k);
    const members: Kustomization[] = [];
    const renders = new Map<string, KubeObject[]>();
    for (const member of this.index.inLane(lane)) {
      const m = this.kustomizations.get(member);
      if (!m || m.metadata.deletionTimestamp) continue;
      const artifact = this.artifacts.get(sourceKeyOf(m));
      if (!artifact) continue;
      const spec = fluxBuildSpecOf({ ...m.spec, postBuild: undefined } as KustomizationSpec);
      const cacheKey = `infer\u0000${RenderCache.key(artifact.revision, m.spec.path ?? "", spec)}`;
      let pending = this.inferenceRenders.get(cacheKey);
      if (!pending) {
        // In a render worker, as a unit's own render: a heavy or hostile render never holds the event loop.
        pending = this.renderWorkers.render(artifact.tree, normalizePath(m.spec.path), spec);
        this.inferenceRenders.set(cacheKey, pending);
      }
      let objects: KubeObject[];
      try {
        objects = await pending;
      } catch {
        continue; // its own reconcile reports the failure
      }
      renders.set(objectKey(m), objects);
      members.push({ ...m, spec: { ...m.spec, dependsOn: [] } });
    }
    if (this.inferenceRenders.size > 4 * Math.max(16, this.kustomizations.size)) this.inferenceRenders.clear();
    inferDependencies(members, renders);
    const self = members.find((m) => objectKey(m) === objectKey(k));
    const explicit = new Set((k.spec.dependsOn ?? []).map((d) => dependencyKey(k, d)));
    return (
      (self?.spec.dependsOn ?? [])
        .map((d) => ({ name: d.name, namespace: d.namespace ?? k.metadata.namespace }))
        .filter((d) => !explicit.has(`${d.namespace}/${d.name}`))
        // Under --no-cross-namespace-refs a tenant's unit never waits for another tenant's: A rendering
        // B's Namespace must not make B's units depend on A's (nor be refused as a reference B never wrote).
        .filter((d) => !this.options.noCrossNamespaceRefs || d.namespace === k.metadata.namespace)
    );
  }

  /** Deletes what a deleted Kustomization applied (when it prunes), then releases the object. */
  private async finalize(k: Kustomization): Promise<void> {
    const log = this.log.child({ unit: objectKey(k) });
    const entries = k.status?.inventory?.entries ?? [];
    if (k.spec.prune && entries.length > 0 && !k.spec.suspend) {
      let kubeconfig: string | undefined;
      let reachable = true;
      if (k.spec.kubeConfig) {
        const secret = await this.mgmt.getSecret(k.metadata.namespace, k.spec.kubeConfig.secretRef.name);
        kubeconfig = secret ? kubeconfigOfSecret(k.spec.kubeConfig.secretRef, secret) : undefined;
        reachable = kubeconfig !== undefined;
      }
      if (reachable) {
        try {
          // As the unit's identity, as its reconciles: a tenant's deleted unit prunes only what its service account may delete.
          await this.targets
            .target(
              kubeconfig,
              identityOf(k, {
                ...(this.options.defaultServiceAccount
                  ? { defaultServiceAccount: this.options.defaultServiceAccount }
                  : {}),
              }),
            )
            .apply({
              unit: { namespace: k.metadata.namespace, name: k.metadata.name },
              objects: [],
              previousInventory: entries,
              prune: true,
              wait: false,
              force: false,
              healthChecks: undefined,
              timeoutMs: 60_000,
            });
          log.info({ objects: entries.length }, "pruned the objects of a deleted Kustomization");
        } catch (error) {
          log.warn({ err: describeError(error) }, "could not prune a deleted Kustomization's objects; retrying");
          this.queue.addAfter(`Kustomization/${objectKey(k)}`, laneOf(k), 10_000);
          return;
        }
      } else {
        log.info("the target cluster's kubeconfig Secret is gone; nothing to prune");
      }
    }
    const released = await this.mgmt.setFinalizers(
      k,
      (k.metadata.finalizers ?? []).filter((f) => f !== FINALIZER),
    );
    // A status write raced the release (409): retry, or the object would stay Terminating.
    if (!released) this.queue.addAfter(`Kustomization/${objectKey(k)}`, laneOf(k), 1_000);
  }

  /**
   * The RevisionGate: the revision a unit of a rolled-out source may apply now (its cluster's pin),
   * or "held" (requeued for when that may change); undefined: the source's newest, as in Flux.
   */
  private rolloutGate(k: Kustomization): Extract<RevisionGateResult, { artifact: unknown }> | "held" | undefined {
    const newest = this.artifacts.get(sourceKeyOf(k));
    const gated = newest ? this.rollouts.gate(k, newest) : undefined;
    if (!gated || !("hold" in gated)) return gated;
    this.log.info({ unit: objectKey(k), reason: gated.hold }, "held by its rollout");
    this.queue.addAfter(`Kustomization/${objectKey(k)}`, laneOf(k), gated.requeueAfterMs);
    return "held";
  }

  /** `pinned`: a unit's own revision of its source (a rollout's pin) instead of the newest. */
  private kustomizationContext(pinned?: Record<string, SourceArtifact>, lane?: string): KustomizationContext {
    return {
      // With replicas, a unit's status and applies go out only while its cluster's Lease is held.
      mgmt: lane ? this.ownership.fenceUnitStatus(lane, this.mgmt) : this.mgmt,
      render: (tree, path, spec) => this.renderWorkers.renderRecorded(tree, normalizePath(path), spec),
      renderCache: this.renderCache,
      fullReconciles: this.fullReconciles,
      artifact: (key) => pinned?.[key] ?? this.artifacts.get(key),
      sourceExists: (key) => this.gitRepositories.has(key),
      kustomization: (key) => this.kustomizations.get(key),
      target: (kubeconfig, identity) =>
        lane
          ? this.ownership.fenceTarget(lane, this.targets.target(kubeconfig, identity))
          : this.targets.target(kubeconfig, identity),
      tenancy: {
        ...(this.options.defaultServiceAccount ? { defaultServiceAccount: this.options.defaultServiceAccount } : {}),
        noCrossNamespaceRefs: this.options.noCrossNamespaceRefs ?? false,
      },
      clock: this.clock,
      logger: this.log,
      metrics: this.metrics,
    };
  }

  private sourceContext(): SourceContext {
    return {
      mgmt: this.ownership.fenceSourceStatus(this.mgmt),
      tracker: (g, credentials) => this.tracker(g, credentials),
      // flotilla up's own mirror (sourceUrlOverride) is the controller's choice, not the object's: only user-written URLs are checked.
      urlRefusal: (g) =>
        this.options.sourceUrlOverride?.(g)
          ? undefined
          : urlRefusal(g.spec.url, { allowInsecureHttp: this.options.allowInsecureHttp ?? false }),
      store: (key, artifact) => this.artifacts.set(key, artifact),
      stored: (key) => this.artifacts.get(key),
      onNewRevision: (key) => {
        this.renderCache.retainRevisions(new Set([...this.artifacts.values()].map((a) => a.revision)));
        this.inferenceRenders.clear();
        const artifact = this.artifacts.get(key);
        if (artifact) for (const l of this.listeners) l(key, artifact);
        if (artifact) this.rollouts.onArtifact(key, artifact);
        for (const k of this.kustomizations.values()) if (sourceKeyOf(k) === key) this.enqueue(k);
      },
      clock: this.clock,
      logger: this.log,
      metrics: this.metrics,
    };
  }

  /**
   * One GitSource per GitRepository, remade when its URL, ref, ignore rules or credentials change
   * (the Secret's identity and resourceVersion, never a digest of its values).
   */
  private tracker(g: GitRepository, credentials: SecretCredentials | undefined): TrackedSource {
    const key = objectKey(g);
    const id = digest({
      url: g.spec.url,
      ref: g.spec.ref,
      ignore: g.spec.ignore,
      credentials: credentials ? `${credentials.identity}@${credentials.version}` : undefined,
    });
    let entry = this.trackers.get(key);
    if (!entry || entry.id !== id) {
      const source = new GitSource(
        {
          url: g.spec.url,
          ...(g.spec.ref ? { ref: g.spec.ref } : {}),
          ...(credentials ? { secret: credentials.data, credentialsIdentity: credentials.identity } : {}),
          ...(g.spec.ignore ? { ignore: g.spec.ignore } : {}),
          ...(this.options.cacheDir ? { cacheDir: this.options.cacheDir } : {}),
          ...(this.options.sourceLimits ? { limits: this.options.sourceLimits } : {}),
        },
        { logger: this.log },
      );
      entry = { id, source };
      this.trackers.set(key, entry);
    }
    return entry.source;
  }
}

/** `?labelSelector=…` for a `--watch-label-selector`, or nothing. */
function selectorQuery(selector: string | undefined): string {
  return selector ? `?labelSelector=${encodeURIComponent(selector)}` : "";
}

/**
 * Sockets to the management cluster: one per worker (each reconcile reads Secrets and writes
 * status and events there) and a few for sources, rollouts and Leases; watches have their own.
 * The client's default of 8 made workers queue for a socket at `--concurrent` above 8.
 */
function managementSockets(concurrency: number | undefined): number {
  return Math.max(8, (concurrency ?? 10) + 4);
}

/** Lanes are target clusters, so one slow cluster holds at most its lane's share of workers. */
function laneOf(k: Kustomization): string {
  return k.spec.kubeConfig ? `${k.metadata.namespace}/${k.spec.kubeConfig.secretRef.name}` : "mgmt";
}

/** Flux's predicate: a new generation (spec), a reconcile request, or a deletion. */
function specChanged(before: KubeObject, after: KubeObject): boolean {
  return (
    before.metadata.generation !== after.metadata.generation ||
    before.metadata.annotations?.[REQUESTED_AT] !== after.metadata.annotations?.[REQUESTED_AT] ||
    (!before.metadata.deletionTimestamp && after.metadata.deletionTimestamp !== undefined)
  );
}

function isReadyNow(k: Kustomization): boolean {
  return readyCondition(k.status?.conditions)?.status === "True";
}

function upToDate(k: Kustomization, artifacts: Map<string, SourceArtifact>): boolean {
  return isReadyNow(k) && k.status?.lastAppliedRevision === artifacts.get(sourceKeyOf(k))?.revision;
}
