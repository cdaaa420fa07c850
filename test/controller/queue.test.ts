import { describe, expect, it } from "vitest";
import type { Clock } from "../../src/controller/clock.js";
import { FairQueue } from "../../src/controller/queue.js";

function manualClock(): Clock & { advance(ms: number): void } {
  let now = 0;
  let timers: Array<{ at: number; fn: () => void; id: number }> = [];
  let nextId = 0;
  return {
    now: () => now,
    setTimeout: (fn, ms) => {
      const id = nextId++;
      timers.push({ at: now + ms, fn, id });
      return id;
    },
    clearTimeout: (handle) => {
      timers = timers.filter((t) => t.id !== handle);
    },
    advance(ms) {
      now += ms;
      const due = timers.filter((t) => t.at <= now).sort((a, b) => a.at - b.at);
      timers = timers.filter((t) => t.at > now);
      for (const t of due) t.fn();
    },
  };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe("FairQueue", () => {
  it("processes a key added many times once", async () => {
    const queue = new FairQueue({ concurrency: 2 });
    const seen: string[] = [];
    queue.add("a", "c1");
    queue.add("a", "c1");
    queue.add("b", "c1");
    queue.start(async (key) => void seen.push(key));
    await queue.whenIdle();
    expect(seen.sort()).toEqual(["a", "b"]);
  });

  it("runs a key again when it was added while being processed, never twice at once", async () => {
    const queue = new FairQueue({ concurrency: 4 });
    const gate = deferred();
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    queue.start(async () => {
      runs++;
      running++;
      maxRunning = Math.max(maxRunning, running);
      if (runs === 1) await gate.promise;
      running--;
    });
    queue.add("a", "c1");
    await new Promise((r) => setImmediate(r));
    queue.add("a", "c1");
    gate.resolve();
    await queue.whenIdle();
    expect(runs).toBe(2);
    expect(maxRunning).toBe(1);
  });

  it("keeps workers for other clusters while one cluster's units hang", async () => {
    const queue = new FairQueue({ concurrency: 4, perLaneLimit: 2 });
    const hang = deferred();
    const done: string[] = [];
    queue.start(async (key) => {
      if (key.startsWith("dead/")) await hang.promise;
      done.push(key);
    });
    for (let i = 0; i < 10; i++) queue.add(`dead/${i}`, "dead");
    for (let i = 0; i < 5; i++) queue.add(`ok/${i}`, "ok");
    await new Promise((r) => setTimeout(r, 20));
    expect(done.filter((k) => k.startsWith("ok/"))).toHaveLength(5);
    expect(queue.stats().processing).toBe(2);
    hang.resolve();
    await queue.whenIdle();
    expect(done).toHaveLength(15);
  });

  it("gives a hanging cluster no more than its fair share of workers while other clusters have work", async () => {
    const queue = new FairQueue({ concurrency: 4, perLaneLimit: 3 });
    const hang = deferred();
    const okGate = deferred();
    let deadRunning = 0;
    queue.start(async (key) => {
      if (!key.startsWith("dead/")) return okGate.promise;
      deadRunning++;
      await hang.promise;
      deadRunning--;
    });
    // A new revision requeues every unit at once, the unreachable cluster's first.
    for (let i = 0; i < 5; i++) queue.add(`dead/${i}`, "dead");
    for (const lane of ["a", "b", "c"]) for (let i = 0; i < 3; i++) queue.add(`${lane}/${i}`, lane);
    await new Promise((r) => setImmediate(r));
    // Four lanes with work share four workers: one each.
    expect(deadRunning).toBe(1);
    expect(queue.stats().processing).toBe(4);
    okGate.resolve();
    await new Promise((r) => setTimeout(r, 20));
    // With the other lanes done, the dead lane may use idle workers, up to its limit.
    expect(deadRunning).toBe(3);
    hang.resolve();
    await queue.whenIdle();
  });

  it("serves lanes round-robin", async () => {
    const queue = new FairQueue({ concurrency: 1 });
    const order: string[] = [];
    for (let i = 0; i < 3; i++) queue.add(`a${i}`, "a");
    for (let i = 0; i < 3; i++) queue.add(`b${i}`, "b");
    queue.start(async (key) => void order.push(key));
    await queue.whenIdle();
    expect(order).toEqual(["a0", "b0", "a1", "b1", "a2", "b2"]);
  });

  it("schedules with addAfter, an earlier schedule winning", async () => {
    const clock = manualClock();
    const queue = new FairQueue({ concurrency: 1, clock });
    const seen: string[] = [];
    queue.start(async (key) => void seen.push(key));
    queue.addAfter("a", "c", 1000);
    queue.addAfter("a", "c", 5000);
    clock.advance(999);
    expect(seen).toEqual([]);
    clock.advance(1);
    await queue.whenIdle();
    expect(seen).toEqual(["a"]);
    clock.advance(10_000);
    await queue.whenIdle();
    expect(seen).toEqual(["a"]);
  });

  it("an immediate add replaces a pending schedule", async () => {
    const clock = manualClock();
    const queue = new FairQueue({ concurrency: 1, clock });
    const seen: string[] = [];
    queue.start(async (key) => void seen.push(key));
    queue.addAfter("a", "c", 1000);
    queue.add("a", "c");
    await queue.whenIdle();
    clock.advance(2000);
    await queue.whenIdle();
    expect(seen).toEqual(["a"]);
    expect(queue.stats().scheduled).toBe(0);
  });
});
