import type { Logger } from "pino";
import { describeError } from "../../core/errors.js";
import type { ClusterClient } from "../../core/kube/index.js";
import type { Clock } from "../clock.js";
import { LEASE_CLUSTER_ANNOTATION, LEASE_ROLE_LABEL, LEASE_SHARD_LABEL } from "../../core/leases.js";
import { LeaseApi, leaseName, microTime, type Lease } from "./leases.js";
import { place, type WeightedCluster } from "./placement.js";

/**
 * Active-active replicas on Kubernetes Leases, no consensus of our own. Each replica holds a
 * membership Lease; the live members place the clusters among themselves (placement.ts), and a
 * replica writes to a cluster only while it holds that cluster's Lease, taken and renewed with
 * resourceVersion-checked writes, so two replicas never both hold one. Expiry is judged as
 * client-go's leader election judges it: by when this replica last saw the Lease change, on its own
 * clock, never by the holder's timestamps.
 */
export interface ReplicaOptions {
  /** This replica's name (the pod's name); written as holderIdentity. */
  identity: string;
  /** The namespace of the Leases (the controller's own). */
  namespace: string;
  /** The replica set: replicas with the same `--watch-label-selector` share clusters (`default` without one). */
  shard: string;
  /** How long a Lease holds without renewal (client-go: 15 s). */
  leaseDurationMs?: number;
  /** A holder that could not renew for this long stops writing (client-go: 10 s). */
  renewDeadlineMs?: number;
  /** Between two rounds of reads and renewals (client-go: 2 s). */
  retryPeriodMs?: number;
  /** Hysteresis: a cluster moves to a replica only after that replica has been live this long, and after it was held this long (default: the lease duration). */
  settleMs?: number;
  /** Rate limit: a replica gives away at most this share of its clusters (at least one) per `moveIntervalMs` (default 0.2). */
  moveFraction?: number;
  /** Default: the renew deadline. */
  moveIntervalMs?: number;
}

export interface ReplicaHooks {
  /** The clusters to place now (lanes) with their units. */
  clusters(): WeightedCluster[];
  /** This replica now holds the cluster's Lease: reconcile everything of it. */
  onAcquired(cluster: string): void;
  /** After each round (metrics). */
  onRound?(status: ReplicaStatus): void;
}

interface Held {
  lease: Lease;
  acquiredAt: number;
  /** When the last successful renewal was sent: the fence counts from here. */
  renewedAt: number;
  releasing: boolean;
}

export interface ReplicaStatus {
  identity: string;
  members: string[];
  owned: string[];
  acquired: number;
  released: number;
  lost: number;
}

export class Replicas {
  readonly identity: string;
  private readonly api: LeaseApi;
  private readonly leaseMs: number;
  private readonly renewDeadlineMs: number;
  readonly retryMs: number;
  private readonly settleMs: number;
  private readonly moveIntervalMs: number;
  private readonly held = new Map<string, Held>();
  private readonly inFlight = new Map<string, number>();
  /** resourceVersion and local time each Lease was last seen to change. */
  private readonly observed = new Map<string, { version: string; at: number }>();
  private readonly firstSeen = new Map<string, number>();
  private members: string[] = [];
  private memberLease: Lease | undefined;
  private lastMemberRenew = 0;
  private moveWindow = { start: 0, moves: 0 };
  private counts = { acquired: 0, released: 0, lost: 0 };
  private timer: unknown;
  private ticking: Promise<void> = Promise.resolve();
  private ticks = 0;
  private stopping = false;
  private stopped = false;

  constructor(
    client: ClusterClient,
    private readonly options: ReplicaOptions,
    private readonly hooks: ReplicaHooks,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.identity = options.identity;
    this.api = new LeaseApi(client, options.namespace);
    this.leaseMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryMs = options.retryPeriodMs ?? 2_000;
    if (!(this.retryMs < this.renewDeadlineMs && this.renewDeadlineMs < this.leaseMs))
      throw new Error(`lease durations must satisfy retry period < renew deadline < lease duration`);
    this.settleMs = options.settleMs ?? this.leaseMs;
    this.moveIntervalMs = options.moveIntervalMs ?? this.renewDeadlineMs;
  }

  /** Joins (the membership Lease), then runs a round every retry period. */
  async start(): Promise<void> {
    await this.tick();
    this.schedule();
  }

  /**
   * Whether this replica may write to `cluster` now: it holds the cluster's Lease, is not giving it
   * away, and by its own clock the last renewal is younger than the lease duration less a margin
   * of one retry period.
   */
  owns(cluster: string): boolean {
    const h = this.held.get(cluster);
    return !!h && !h.releasing && !this.stopping && this.clock.now() < h.renewedAt + this.leaseMs - this.retryMs;
  }

  /** Whether this replica holds the cluster's Lease and keeps it (not giving it away, not stopping), whatever its fence says now. */
  holds(cluster: string): boolean {
    const h = this.held.get(cluster);
    return !!h && !h.releasing && !this.stopping;
  }

  /** Runs `work` on `cluster` counted as in flight: a cluster is released only when none is. */
  async track<T>(cluster: string, work: () => Promise<T>): Promise<T> {
    this.inFlight.set(cluster, (this.inFlight.get(cluster) ?? 0) + 1);
    try {
      return await work();
    } finally {
      const left = (this.inFlight.get(cluster) ?? 1) - 1;
      if (left === 0) this.inFlight.delete(cluster);
      else this.inFlight.set(cluster, left);
    }
  }

  status(): ReplicaStatus {
    return { identity: this.identity, members: [...this.members], owned: [...this.held.keys()].sort(), ...this.counts };
  }

  /**
   * Shutdown: takes no more work, lets the applies in flight finish (renewing meanwhile, up to
   * `graceMs`), then deletes its cluster Leases and its membership Lease so survivors take over at
   * once rather than after expiry.
   */
  async stop(graceMs = 25_000): Promise<void> {
    if (this.stopped) return;
    this.stopping = true;
    const deadline = this.clock.now() + graceMs;
    while (this.inFlight.size > 0 && this.clock.now() < deadline) await sleep(50);
    this.stopped = true;
    this.clock.clearTimeout(this.timer);
    await this.ticking;
    const releases = [...this.held].map(async ([cluster, h]) => {
      if (this.inFlight.has(cluster)) return; // still writing after the grace period: let the Lease expire instead
      await this.api.delete(h.lease.metadata.name, h.lease.metadata.resourceVersion ?? "").catch(() => false);
      this.held.delete(cluster);
    });
    await Promise.all(releases);
    if (this.memberLease)
      await this.api
        .delete(this.memberLease.metadata.name, this.memberLease.metadata.resourceVersion ?? "")
        .catch(() => false);
    this.log.info({ released: releases.length }, "left the replica set and released the cluster Leases");
  }

  /** Stops the rounds at once, releasing nothing (the process is going away without `stop`): the Leases expire. */
  halt(): void {
    this.stopping = true;
    this.stopped = true;
    this.clock.clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => {
      this.ticking = this.tick()
        .catch((error: unknown) => this.log.warn({ err: describeError(error) }, "replica round failed; retrying"))
        .finally(() => this.schedule());
    }, this.retryMs);
  }

  /**
   * One round: read the Leases, renew ours, then give away and take clusters as placement says
   * (the first round only joins). `start` runs one every retry period; a test drives them by hand.
   */
  async tick(): Promise<void> {
    const leases = await this.api.list({ [LEASE_SHARD_LABEL]: this.options.shard });
    const now = this.clock.now();
    this.observe(leases, now, true);
    await this.renewMembership(leases.find((l) => l.metadata.name === this.memberLeaseName()));
    this.members = this.liveMembers(leases, now);
    const byCluster = new Map<string, Lease>();
    for (const l of leases)
      if (l.metadata.labels?.[LEASE_ROLE_LABEL] === "cluster" && l.metadata.annotations?.[LEASE_CLUSTER_ANNOTATION])
        byCluster.set(l.metadata.annotations[LEASE_CLUSTER_ANNOTATION], l);
    await this.renewClusters(byCluster);
    // The first round only joins, so that replicas started together see each other before taking clusters.
    if (this.ticks++ === 0 || this.stopping) return this.hooks.onRound?.(this.status());
    const clusters = this.hooks.clusters();
    const desired = place(clusters, this.members);
    await this.giveAway(desired, now);
    await this.take(desired, byCluster);
    this.hooks.onRound?.(this.status());
  }

  /** Records when each Lease was seen to change; `complete`: the whole list, so Leases not in it are gone. */
  private observe(leases: Lease[], now: number, complete = false): void {
    const names = new Set<string>();
    for (const l of leases) {
      names.add(l.metadata.name);
      const version = l.metadata.resourceVersion ?? "";
      if (this.observed.get(l.metadata.name)?.version !== version)
        this.observed.set(l.metadata.name, { version, at: now });
    }
    if (complete) for (const name of [...this.observed.keys()]) if (!names.has(name)) this.observed.delete(name);
  }

  /** Free: no holder, or not renewed for its lease duration as this replica observed it. */
  private free(l: Lease, now: number): boolean {
    if (!l.spec.holderIdentity) return true;
    const seconds = l.spec.leaseDurationSeconds;
    const duration = typeof seconds === "number" && seconds >= 1 && seconds <= 3600 ? seconds * 1000 : this.leaseMs;
    return now > (this.observed.get(l.metadata.name)?.at ?? now) + duration;
  }

  private liveMembers(leases: Lease[], now: number): string[] {
    const live = leases
      .filter((l) => l.metadata.labels?.[LEASE_ROLE_LABEL] === "member" && !this.free(l, now))
      .map((l) => l.spec.holderIdentity!)
      .filter((id) => id !== this.identity);
    if (!this.stopping && now - this.lastMemberRenew < this.renewDeadlineMs) live.push(this.identity);
    for (const m of live) if (!this.firstSeen.has(m)) this.firstSeen.set(m, now);
    for (const m of [...this.firstSeen.keys()]) if (!live.includes(m)) this.firstSeen.delete(m);
    return [...new Set(live)].sort();
  }

  private memberLeaseName(): string {
    return leaseName(
      "flotilla-member",
      `${this.options.shard === "default" ? "" : `${this.options.shard}-`}${this.identity}`,
    );
  }

  private newLease(name: string, role: "member" | "cluster", now: number, cluster?: string): Lease {
    return {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: {
        name,
        namespace: this.options.namespace,
        labels: { [LEASE_ROLE_LABEL]: role, [LEASE_SHARD_LABEL]: this.options.shard },
        ...(cluster ? { annotations: { [LEASE_CLUSTER_ANNOTATION]: cluster } } : {}),
      },
      spec: this.holding({ leaseTransitions: 0, ...(role === "cluster" ? { acquireTime: microTime(now) } : {}) }, now),
    };
  }

  private holding(spec: Lease["spec"], now: number): Lease["spec"] {
    return {
      ...spec,
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.ceil(this.leaseMs / 1000),
      renewTime: microTime(now),
    };
  }

  private async renewMembership(current: Lease | undefined): Promise<void> {
    if (this.stopped) return;
    const sent = this.clock.now();
    const lease = current ?? this.memberLease;
    const next = current
      ? await this.api.update({ ...current, spec: this.holding(current.spec, sent) })
      : await this.api.create(this.newLease(this.memberLeaseName(), "member", sent));
    if (next) {
      this.memberLease = next;
      this.lastMemberRenew = sent;
      this.observe([next], sent);
    } else if (!lease) this.log.warn("could not create the membership Lease; retrying");
  }

  /** Renews the held cluster Leases every third of a lease duration; one taken or gone is lost. */
  private async renewClusters(byCluster: Map<string, Lease>): Promise<void> {
    await Promise.all(
      [...this.held].map(async ([cluster, h]) => {
        const live = byCluster.get(cluster);
        if (
          !live ||
          live.spec.holderIdentity !== this.identity ||
          live.metadata.resourceVersion !== h.lease.metadata.resourceVersion
        ) {
          this.lose(cluster, live ? `held by ${live.spec.holderIdentity || "nobody"}` : "the Lease is gone");
          return;
        }
        const sent = this.clock.now();
        if (sent - h.renewedAt < this.leaseMs / 3) return;
        const renewed = await this.api.update({ ...h.lease, spec: this.holding(h.lease.spec, sent) });
        if (!renewed) return this.lose(cluster, "its renewal conflicted");
        h.lease = renewed;
        h.renewedAt = sent;
        this.observe([renewed], sent);
      }),
    );
  }

  private lose(cluster: string, why: string): void {
    this.held.delete(cluster);
    this.counts.lost++;
    this.log.warn({ cluster, why }, "lost the cluster's Lease");
  }

  /**
   * Gives away clusters placed elsewhere, gradually: only to a replica live for the settle time, only
   * clusters held that long, at most a share per move interval, each once its applies in flight
   * are done. A cluster that no longer exists is let go at once.
   */
  private async giveAway(desired: Map<string, string>, now: number): Promise<void> {
    if (now - this.moveWindow.start >= this.moveIntervalMs) this.moveWindow = { start: now, moves: 0 };
    const budget = Math.max(1, Math.ceil((this.options.moveFraction ?? 0.2) * this.held.size));
    for (const [cluster, h] of this.held) {
      const to = desired.get(cluster);
      if (to === this.identity) {
        h.releasing = false;
        continue;
      }
      if (!h.releasing) {
        const settled =
          to === undefined ||
          (now - (this.firstSeen.get(to) ?? now) >= this.settleMs && now - h.acquiredAt >= this.settleMs);
        if (!settled || (to !== undefined && this.moveWindow.moves >= budget)) continue;
        if (to !== undefined) this.moveWindow.moves++;
        h.releasing = true;
        this.log.info({ cluster, to: to ?? null }, "giving the cluster away");
      }
      if (this.inFlight.has(cluster)) continue;
      if (await this.api.delete(h.lease.metadata.name, h.lease.metadata.resourceVersion ?? "")) {
        this.held.delete(cluster);
        this.counts.released++;
        this.log.info({ cluster, to: to ?? null }, "released the cluster's Lease");
      }
    }
  }

  /** Takes the clusters placed here whose Lease is absent, released or expired. */
  private async take(desired: Map<string, string>, byCluster: Map<string, Lease>): Promise<void> {
    const wanted = [...desired]
      .filter(([cluster, r]) => r === this.identity && !this.held.has(cluster))
      .map(([c]) => c);
    await Promise.all(
      wanted.map(async (cluster) => {
        const sent = this.clock.now();
        const current = byCluster.get(cluster);
        let lease: Lease | undefined;
        if (!current)
          lease = await this.api.create(
            this.newLease(leaseName(`flotilla-cluster-${this.options.shard}`, cluster), "cluster", sent, cluster),
          );
        else if (this.free(current, sent))
          lease = await this.api.update({
            ...current,
            spec: {
              ...this.holding(current.spec, sent),
              acquireTime: microTime(sent),
              leaseTransitions: (current.spec.leaseTransitions ?? 0) + 1,
            },
          });
        if (!lease) return;
        this.observe([lease], sent);
        this.held.set(cluster, { lease, acquiredAt: sent, renewedAt: sent, releasing: false });
        this.counts.acquired++;
        this.log.info({ cluster, from: current?.spec.holderIdentity || null }, "acquired the cluster's Lease");
        this.hooks.onAcquired(cluster);
      }),
    );
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
