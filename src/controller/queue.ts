import { systemClock, type Clock } from "./clock.js";

/**
 * A work queue with Kubernetes workqueue semantics (an item is never processed twice at once; an
 * item added while it is being processed runs again afterwards) and fairness across lanes: each
 * lane is a cluster, lanes are served round-robin, and one lane holds at most `perLaneLimit`
 * workers, so units of an unreachable cluster that wait for their timeouts never hold every
 * worker while other clusters have work. While other lanes have work waiting, a lane takes no
 * more than its fair share (concurrency ÷ lanes with work); a worker no lane under its share can
 * use goes to a lane over it, up to `perLaneLimit`.
 */
export interface QueueOptions {
  concurrency: number;
  perLaneLimit?: number;
  clock?: Clock;
}

export type Handler = (key: string) => Promise<void>;

export class FairQueue {
  private readonly concurrency: number;
  private readonly perLaneLimit: number;
  private readonly clock: Clock;
  private readonly lanes = new Map<string, string[]>();
  private readonly laneOf = new Map<string, string>();
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly inFlightPerLane = new Map<string, number>();
  private readonly timers = new Map<string, { handle: unknown; at: number }>();
  private laneOrder: string[] = [];
  private nextLane = 0;
  private running = 0;
  private handler: Handler | undefined;
  private stopped = false;
  private pumpScheduled = false;
  private idleWaiters: Array<() => void> = [];

  constructor(options: QueueOptions) {
    this.concurrency = Math.max(1, options.concurrency);
    this.perLaneLimit = Math.max(1, options.perLaneLimit ?? Math.max(2, Math.ceil(this.concurrency / 2)));
    this.clock = options.clock ?? systemClock;
  }

  /** Starts processing with `handler`; items added before start wait for it. */
  start(handler: Handler): void {
    this.handler = handler;
    this.pump();
  }

  /** Queues `key` in `lane` now (deduplicated). */
  add(key: string, lane: string): void {
    if (this.stopped) return;
    this.laneOf.set(key, lane);
    const timer = this.timers.get(key);
    if (timer) {
      this.clock.clearTimeout(timer.handle);
      this.timers.delete(key);
    }
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    let lanes = this.lanes.get(lane);
    if (!lanes) {
      this.lanes.set(lane, (lanes = []));
      this.laneOrder.push(lane);
    }
    lanes.push(key);
    this.schedulePump();
  }

  /** Queues `key` after `delayMs`; an earlier pending schedule wins over a later one. */
  addAfter(key: string, lane: string, delayMs: number): void {
    if (this.stopped) return;
    if (delayMs <= 0) return this.add(key, lane);
    const at = this.clock.now() + delayMs;
    const existing = this.timers.get(key);
    if (existing && existing.at <= at) return;
    if (existing) this.clock.clearTimeout(existing.handle);
    const handle = this.clock.setTimeout(() => {
      this.timers.delete(key);
      this.add(key, lane);
    }, delayMs);
    this.timers.set(key, { handle, at });
  }

  /** Forgets `key`: its pending schedule and queued entry (an ongoing run finishes). */
  forget(key: string): void {
    const timer = this.timers.get(key);
    if (timer) this.clock.clearTimeout(timer.handle);
    this.timers.delete(key);
    this.dirty.delete(key);
    if (this.queued.delete(key)) {
      const lane = this.laneOf.get(key);
      const keys = lane ? this.lanes.get(lane) : undefined;
      if (keys) keys.splice(keys.indexOf(key), 1);
    }
  }

  /** How many items wait, run, and are scheduled for later. */
  stats(): { queued: number; processing: number; scheduled: number } {
    return { queued: this.queued.size, processing: this.processing.size, scheduled: this.timers.size };
  }

  /** Resolves when nothing is queued or processing (scheduled items do not count). */
  whenIdle(): Promise<void> {
    if (this.queued.size === 0 && this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops taking work and cancels schedules; runs in progress finish. */
  stop(): void {
    this.stopped = true;
    for (const { handle } of this.timers.values()) this.clock.clearTimeout(handle);
    this.timers.clear();
  }

  /**
   * Keys added in one go (a new revision requeues every unit at once) are handed out together, a
   * microtask later, so the fair share counts every lane that got work rather than the first one.
   */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    if (!this.handler) return;
    while (this.running < this.concurrency) {
      const key = this.take();
      if (key === undefined) break;
      void this.run(key);
    }
    if (this.queued.size === 0 && this.processing.size === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  private take(): string | undefined {
    const fairShare = Math.max(1, Math.floor(this.concurrency / Math.max(1, this.laneOrder.length)));
    return this.takeUnder(Math.min(fairShare, this.perLaneLimit)) ?? this.takeUnder(this.perLaneLimit);
  }

  /** The next key, round-robin, of a lane that has fewer than `limit` workers. */
  private takeUnder(limit: number): string | undefined {
    const count = this.laneOrder.length;
    for (let i = 0; i < count; i++) {
      const index = (this.nextLane + i) % count;
      const lane = this.laneOrder[index]!;
      const keys = this.lanes.get(lane)!;
      if (keys.length === 0 || (this.inFlightPerLane.get(lane) ?? 0) >= limit) continue;
      this.nextLane = (index + 1) % count;
      const key = keys.shift()!;
      if (keys.length === 0) this.dropLane(lane, index);
      return key;
    }
    return undefined;
  }

  private dropLane(lane: string, index: number): void {
    if ((this.inFlightPerLane.get(lane) ?? 0) > 0) return;
    this.lanes.delete(lane);
    this.laneOrder.splice(index, 1);
    if (this.nextLane > index) this.nextLane--;
    if (this.laneOrder.length > 0) this.nextLane %= this.laneOrder.length;
    else this.nextLane = 0;
  }

  private async run(key: string): Promise<void> {
    const lane = this.laneOf.get(key) ?? "";
    this.queued.delete(key);
    this.processing.add(key);
    this.running++;
    this.inFlightPerLane.set(lane, (this.inFlightPerLane.get(lane) ?? 0) + 1);
    try {
      await this.handler!(key);
    } catch {
      // The handler owns error handling (status, retry schedule); the queue only keeps going.
    } finally {
      this.running--;
      const left = (this.inFlightPerLane.get(lane) ?? 1) - 1;
      if (left === 0) {
        this.inFlightPerLane.delete(lane);
        const keys = this.lanes.get(lane);
        if (keys && keys.length === 0) this.dropLane(lane, this.laneOrder.indexOf(lane));
      } else this.inFlightPerLane.set(lane, left);
      this.processing.delete(key);
      if (this.dirty.delete(key)) this.add(key, this.laneOf.get(key) ?? lane);
      this.pump();
    }
  }
}
