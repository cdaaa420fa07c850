import { createHash } from "node:crypto";
import type { Logger } from "pino";
import type { ClusterClient } from "../../core/kube/index.js";
import type { Metrics } from "../../status/metrics.js";
import type { Clock } from "../clock.js";
import type { ManagementCluster, TargetCluster } from "../ports.js";
import type { WeightedCluster } from "./placement.js";
import { Replicas, type ReplicaOptions, type ReplicaStatus } from "./replicas.js";

/** `flotilla controller` as one of N replicas (`--lease-namespace`, `--replica-id`, `--lease-duration`…). */
export type ReplicasConfig = Omit<ReplicaOptions, "shard">;

/** The lane of the management cluster itself: its units, GitRepository statuses and the fleet plan. */
export const MANAGEMENT_LANE = "mgmt";

/** A write refused because this replica does not hold the cluster's Lease (any more). */
export class NotOwnerError extends Error {}

/**
 * Which clusters this controller may write to. Without replicas, all of them (one process, as
 * before). With replicas, those whose Lease it holds: reconciles of other clusters are not queued,
 * and every apply and status write of a unit is checked against the Lease right before it goes out.
 */
export class ClusterOwnership {
  readonly userAgent: string;
  private readonly replicas: Replicas | undefined;
  private readonly acquiredListeners: Array<(cluster: string) => void> = [];

  constructor(
    client: ClusterClient | undefined,
    config: ReplicasConfig | undefined,
    deps: {
      watchLabelSelector: string | undefined;
      clusters: () => WeightedCluster[];
      queueDepth: () => number;
      metrics: Metrics;
      clock: Clock;
      logger: Logger;
    },
  ) {
    this.userAgent = config ? `flotilla-controller/${config.identity}` : "flotilla";
    if (!client || !config) return;
    const log = deps.logger.child({ component: "replicas", replica: config.identity });
    const shard = shardOf(deps.watchLabelSelector);
    this.replicas = new Replicas(
      client,
      { ...config, shard },
      {
        clusters: deps.clusters,
        onAcquired: (cluster) => {
          for (const l of this.acquiredListeners) l(cluster);
        },
        onRound: (status) => recordReplicaMetrics(deps.metrics, status, deps.queueDepth()),
      },
      deps.clock,
      log,
    );
    log.info({ shard, namespace: config.namespace }, "running as one of the controller's replicas");
  }

  get enabled(): boolean {
    return this.replicas !== undefined;
  }

  start(): Promise<void> {
    return this.replicas?.start() ?? Promise.resolve();
  }

  /** Finishes the work in flight and releases every Lease (SIGTERM). */
  stop(): Promise<void> {
    return this.replicas?.stop() ?? Promise.resolve();
  }

  /** Whether this process may write to the cluster right now (its fence is open). */
  /** Stops the Lease rounds without releasing (Controller.stop without drain): the Leases expire. */
  halt(): void {
    this.replicas?.halt();
  }

  owns(cluster: string): boolean {
    return this.replicas ? this.replicas.owns(cluster) : true;
  }

  /** Whether the cluster is this replica's (its Lease held and kept), even while its fence waits for a renewal: its units are queued. */
  holds(cluster: string): boolean {
    return this.replicas ? this.replicas.holds(cluster) : true;
  }

  /** How long to wait before trying again a unit whose cluster is held but not writable yet. */
  get retryMs(): number {
    return this.replicas?.retryMs ?? 1_000;
  }

  /** Called with each cluster this replica takes over (its units are then all queued). */
  onAcquired(listener: (cluster: string) => void): void {
    this.acquiredListeners.push(listener);
  }

  status(): ReplicaStatus | undefined {
    return this.replicas?.status();
  }

  /**
   * Runs a reconcile of `cluster`'s unit if this replica may write to the cluster, counted as in
   * flight: `ran`; `later` when the cluster is held but its fence is closed until the next renewal;
   * `not-mine` when another replica's (the owner queues it when it takes the cluster).
   */
  async run(cluster: string, work: () => Promise<void>): Promise<"ran" | "later" | "not-mine"> {
    if (!this.replicas) {
      await work();
      return "ran";
    }
    if (!this.replicas.owns(cluster)) return this.replicas.holds(cluster) ? "later" : "not-mine";
    await this.replicas.track(cluster, work);
    return "ran";
  }

  private check(cluster: string, what: string): void {
    if (!this.owns(cluster))
      throw new NotOwnerError(
        `replica ${this.replicas?.identity ?? ""} no longer holds the Lease of cluster ${cluster}: ${what} not sent`,
      );
  }

  /** The apply port of `cluster`, refusing to apply unless its Lease is held at that moment. */
  fenceTarget(cluster: string, target: TargetCluster): TargetCluster {
    if (!this.replicas) return target;
    return {
      apply: (request) => {
        this.check(cluster, "apply");
        return target.apply(request);
      },
    };
  }

  /** The management cluster as a unit of `cluster` writes it: its status and events only while the Lease is held. */
  fenceUnitStatus(cluster: string, mgmt: ManagementCluster): ManagementCluster {
    if (!this.replicas) return mgmt;
    const skip = () => !this.owns(cluster);
    return {
      getSecret: (ns, name) => mgmt.getSecret(ns, name),
      getCredentials: (ns, name) => mgmt.getCredentials(ns, name),
      getConfigMap: (ns, name) => mgmt.getConfigMap(ns, name),
      patchKustomizationStatus: async (k, status) => {
        this.check(cluster, "status");
        await mgmt.patchKustomizationStatus(k, status);
      },
      patchGitRepositoryStatus: (g, status) => (skip() ? Promise.resolve() : mgmt.patchGitRepositoryStatus(g, status)),
      event: (o, type, reason, message) => (skip() ? Promise.resolve() : mgmt.event(o, type, reason, message)),
    };
  }

  /**
   * The management cluster as the source reconciler writes it: every replica polls every
   * GitRepository (each needs the artifacts), and only the holder of the management cluster's
   * Lease writes their status and events.
   */
  fenceSourceStatus(mgmt: ManagementCluster): ManagementCluster {
    return this.fenceUnitStatus(MANAGEMENT_LANE, mgmt);
  }
}

/** The replica set a `--watch-label-selector` makes (a label value): `default` without one. */
export function shardOf(selector: string | undefined): string {
  return selector ? `s-${createHash("sha256").update(selector).digest("hex").slice(0, 12)}` : "default";
}

function recordReplicaMetrics(metrics: Metrics, s: ReplicaStatus, queueDepth: number): void {
  const replica = { replica: s.identity };
  metrics.replicaClusters.set(replica, s.owned.length);
  metrics.replicaMembers.set(replica, s.members.length);
  metrics.replicaQueueDepth.set(replica, queueDepth);
  for (const direction of ["acquired", "released", "lost"] as const)
    metrics.replicaMoves.set({ ...replica, direction }, s[direction]);
}
