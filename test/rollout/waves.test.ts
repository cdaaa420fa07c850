import { describe, expect, it } from "vitest";
import {
  assignWaves,
  parseRolloutSpec,
  parseWindows,
  stepRollout,
  windowState,
  windowsOf,
  type ClusterObservation,
  type RolloutControl,
  type RolloutDecision,
  type RolloutSpec,
  type RolloutState,
  type WindowSpec,
} from "../../src/rollout/index.js";
import { ManualClock } from "../support/manual-clock.js";

const M = 60_000;
const S = "v1.0.0@sha1:aaaa";
const A = "v1.1.0@sha1:bbbb";
const B = "v1.2.0@sha1:cccc";
const CRASH = "health check failed after 5m0s: Deployment/web/web: CrashLoopBackOff (container web: exit code 1)";

const spec = (yaml: unknown): RolloutSpec => parseRolloutSpec(yaml, { file: "flotilla.yaml" }, "rollouts.prod");
const threeWaves = spec({
  waves: [
    { name: "canary", clusters: { matchLabels: { ring: "canary" } }, soak: "10m" },
    { name: "early", clusters: { matchLabels: { ring: "early" } } },
    { name: "rest", maxConcurrent: "25%" },
  ],
  onFailure: "halt",
});

/**
 * A fleet whose controller applies every pin at once: each unit of a cluster tries the pinned
 * revision; a revision in `bad` fails its health check and keeps the last applied one, as the
 * reconciler does (lastAppliedRevision moves only on success).
 */
class Fleet {
  readonly clusters = new Map<string, ClusterObservation>();
  readonly bad = new Set<string>();
  readonly applied: Array<[string, string]> = [];
  windows: WindowSpec[] = [];
  state: RolloutState = { rejected: [], wave: 0, waveStarted: false };
  control: RolloutControl = { paused: false };
  newest: string | undefined;
  readonly events: string[] = [];

  constructor(
    readonly spec: RolloutSpec,
    readonly clock: ManualClock,
  ) {}

  add(name: string, labels: Record<string, string>, revision: string | undefined = S): this {
    const units = ["common", "apps"].map((u) => ({
      name: u,
      timeoutMs: 5 * M,
      ready: revision !== undefined,
      ...(revision ? { lastAppliedRevision: revision, lastAttemptedRevision: revision } : {}),
    }));
    this.clusters.set(name, { name, labels, units });
    return this;
  }

  observe(): ClusterObservation[] {
    return [...this.clusters.values()].map((c) => ({
      ...c,
      window: windowState(windowsOf(this.windows, c.labels), this.clock.now()),
    }));
  }

  step(): RolloutDecision {
    const d = stepRollout({
      spec: this.spec,
      state: this.state,
      newest: this.newest,
      clusters: this.observe(),
      control: this.control,
      nowMs: this.clock.now(),
    });
    this.state = d.state;
    this.events.push(...d.events.map((e) => e.reason));
    return d;
  }

  /** Applies the pins as the controller would, then steps again until nothing changes. */
  settle(): RolloutDecision {
    for (let i = 0; i < 50; i++) {
      const d = this.step();
      let changed = false;
      for (const [name, pin] of d.pins) {
        if (pin === undefined) continue;
        let clusterChanged = false;
        for (const u of this.clusters.get(name)!.units) {
          if (u.lastAttemptedRevision === pin && (u.ready || this.bad.has(pin))) continue;
          clusterChanged = changed = true;
          u.lastAttemptedRevision = pin;
          if (this.bad.has(pin)) Object.assign(u, { ready: false, failure: `${CRASH}` });
          else {
            Object.assign(u, { ready: true, lastAppliedRevision: pin });
            delete u.failure;
          }
        }
        if (clusterChanged) this.applied.push([name, pin]);
      }
      if (!changed) return this.step();
    }
    throw new Error("the fleet did not settle");
  }

  revisions(): Record<string, string | undefined> {
    return Object.fromEntries([...this.clusters.values()].map((c) => [c.name, c.units[0]!.lastAppliedRevision]));
  }
}

/** Four prod clusters in three waves, everyone on S: canary, one early cluster, two others (one unlabelled). */
function fourClusters(spec = threeWaves): Fleet {
  const clock = new ManualClock(Date.parse("2026-04-07T09:00:00Z"));
  const fleet = new Fleet(spec, clock)
    .add("prod-canary", { ring: "canary" })
    .add("prod-a", { ring: "early" })
    .add("prod-b", {})
    .add("prod-c", {});
  fleet.settle();
  return fleet;
}

describe("waves", () => {
  it("puts clusters that match no wave into a final wave instead of dropping them", () => {
    const s = spec({ waves: [{ name: "canary", clusters: { matchLabels: { ring: "canary" } } }] });
    const waves = assignWaves(s, [
      { name: "x", labels: { ring: "canary" }, units: [] },
      { name: "y", labels: {}, units: [] },
    ]);
    expect(waves.map((w) => [w.wave.name, w.clusters.map((c) => c.name)])).toEqual([
      ["canary", ["x"]],
      ["unmatched", ["y"]],
    ]);
  });

  it("takes a good revision to the canary, soaks it, then to each later wave in order, 25% at a time", () => {
    const fleet = fourClusters();
    fleet.newest = A;
    let d = fleet.settle();
    expect(fleet.revisions()).toEqual({ "prod-canary": A, "prod-a": S, "prod-b": S, "prod-c": S });
    expect(d.phase).toBe("Soaking");
    expect(d.waves[0]).toMatchObject({ name: "canary", total: 1, updated: 1, phase: "Soaking" });
    expect(d.recheckAtMs).toBe(fleet.clock.now() + 10 * M);

    fleet.clock.advance(10 * M - 1);
    expect(fleet.settle().phase).toBe("Soaking");
    fleet.clock.advance(1);
    d = fleet.settle();
    expect(d.phase).toBe("Succeeded");
    expect(fleet.state.stable).toBe(A);
    expect(fleet.applied.filter(([, r]) => r === A).map(([c]) => c)).toEqual([
      "prod-canary",
      "prod-a",
      "prod-b",
      "prod-c",
    ]);
    expect(d.waves.map((w) => [w.name, w.updated, w.total, w.phase])).toEqual([
      ["canary", 1, 1, "Succeeded"],
      ["early", 1, 1, "Succeeded"],
      ["rest", 2, 2, "Succeeded"],
    ]);
  });

  it("changes at most maxConcurrent clusters of a wave at once", () => {
    const clock = new ManualClock(0);
    const fleet = new Fleet(spec({ waves: [{ name: "all", maxConcurrent: 2 }] }), clock);
    for (const n of ["c1", "c2", "c3", "c4", "c5"]) fleet.add(n, {});
    fleet.newest = A;
    const d = fleet.step();
    expect([...d.pins.values()].filter((r) => r === A)).toHaveLength(2);
    expect(d.waves[0]).toMatchObject({ progressing: 2, updated: 0 });
    expect(fleet.settle().phase).toBe("Succeeded");
  });

  it("halts a bad revision at the canary, naming cluster, unit and object, while the other three keep the previous revision", () => {
    const fleet = fourClusters();
    fleet.bad.add(A);
    fleet.newest = A;
    const d = fleet.settle();
    expect(d.phase).toBe("Halted");
    expect(d.message).toBe(`halted: cluster prod-canary, unit common: ${CRASH}`);
    expect(fleet.events.filter((e) => e === "RolloutHalted")).toHaveLength(1);
    expect(fleet.revisions()).toEqual({ "prod-canary": S, "prod-a": S, "prod-b": S, "prod-c": S });
    expect(d.pins.get("prod-canary")).toBe(A); // halt: the canary keeps trying the target
    expect(["prod-a", "prod-b", "prod-c"].map((c) => d.pins.get(c))).toEqual([S, S, S]);
    expect(d.waves.map((w) => w.phase)).toEqual(["Failed", "Pending", "Pending"]);
    fleet.clock.advance(60 * M);
    expect(fleet.settle().pins.get("prod-a")).toBe(S);
  });

  it("with onFailure: rollback, puts the canary back on its last good revision and rejects the revision until a newer one", () => {
    const fleet = fourClusters(
      spec({
        ...{ waves: [{ name: "canary", clusters: { matchLabels: { ring: "canary" } } }, { name: "rest" }] },
        onFailure: "rollback",
      }),
    );
    fleet.bad.add(A);
    fleet.newest = A;
    let d = fleet.settle();
    expect(d.phase).toBe("RolledBack");
    expect(d.pins.get("prod-canary")).toBe(S);
    expect(
      fleet.clusters
        .get("prod-canary")!
        .units.every((u) => u.ready && u.lastAppliedRevision === S && u.lastAttemptedRevision === S),
    ).toBe(true);
    expect(fleet.state.rejected).toEqual([A]);
    fleet.clock.advance(60 * M);
    d = fleet.settle(); // the source still offers A: it does not roll out again
    expect(d.phase).toBe("RolledBack");
    expect(fleet.revisions()).toEqual({ "prod-canary": S, "prod-a": S, "prod-b": S, "prod-c": S });
    fleet.newest = B;
    d = fleet.settle();
    expect(d.phase).toBe("Succeeded");
    expect(Object.values(fleet.revisions())).toEqual([B, B, B, B]);
  });

  it("restarts from the first wave when a newer revision arrives, and moves clusters on an older one straight to the newest", () => {
    const fleet = fourClusters(
      spec({
        waves: [
          { name: "canary", clusters: { matchLabels: { ring: "canary" } }, soak: "10m" },
          { name: "rest", maxConcurrent: 1, soak: "5m" },
        ],
      }),
    );
    fleet.newest = A;
    fleet.settle();
    fleet.clock.advance(10 * M);
    fleet.settle(); // rest: prod-a takes A, then soak is not reached until all three are on A
    expect(fleet.revisions()).toMatchObject({ "prod-canary": A, "prod-a": A });
    expect(fleet.revisions()["prod-c"]).toBe(A); // one at a time, all three done within the pass
    fleet.clusters
      .get("prod-c")!
      .units.forEach((u) => Object.assign(u, { lastAppliedRevision: S, lastAttemptedRevision: S })); // as if prod-c had not started yet
    fleet.newest = B;
    const mark = fleet.applied.length;
    fleet.settle();
    expect(fleet.events).toContain("Superseded");
    expect(fleet.revisions()).toEqual({ "prod-canary": B, "prod-a": A, "prod-b": A, "prod-c": S });
    fleet.clock.advance(10 * M);
    fleet.settle();
    expect(
      fleet.applied
        .slice(mark)
        .filter(([c]) => c === "prod-c")
        .map(([, r]) => r),
    ).toEqual([B]); // never A
    expect(Object.values(fleet.revisions())).toEqual([B, B, B, B]);
  });

  it("starts nothing new while paused and continues on resume", () => {
    const fleet = fourClusters();
    fleet.newest = A;
    fleet.settle();
    fleet.control = { paused: true };
    fleet.clock.advance(30 * M);
    let d = fleet.settle();
    expect(d.phase).toBe("Paused");
    expect(fleet.revisions()).toEqual({ "prod-canary": A, "prod-a": S, "prod-b": S, "prod-c": S });
    fleet.control = { paused: false };
    d = fleet.settle();
    expect(d.phase).toBe("Succeeded");
  });

  it("waits for approval of a manual wave, for the revision being rolled out only", () => {
    const fleet = fourClusters(
      spec({
        waves: [
          { name: "canary", clusters: { matchLabels: { ring: "canary" } } },
          { name: "rest", approval: "manual" },
        ],
      }),
    );
    fleet.newest = A;
    let d = fleet.settle();
    expect(d.phase).toBe("WaitingApproval");
    expect(d.waves[1]).toMatchObject({ phase: "WaitingApproval", reason: `flotilla rollout approve (rest@${A})` });
    fleet.control = { paused: false, approve: `rest@${S}` };
    expect(fleet.settle().phase).toBe("WaitingApproval");
    fleet.control = { paused: false, approve: `rest@${A}` };
    d = fleet.settle();
    expect(d.phase).toBe("Succeeded");
  });

  it("retries a halted rollout on request: the failed cluster gets another timeout to become Ready", () => {
    const fleet = fourClusters();
    fleet.bad.add(A);
    fleet.newest = A;
    expect(fleet.settle().phase).toBe("Halted");
    fleet.bad.delete(A); // e.g. a missing Secret was created by hand
    expect(fleet.settle().phase).toBe("Halted"); // nothing retries on its own…
    fleet.clusters.get("prod-canary")!.units.forEach((u) => (u.lastAttemptedRevision = undefined)); // …the controller requeues the failed units
    fleet.control = { paused: false, retry: "2026-04-07T10:00:00Z" };
    fleet.settle();
    fleet.clock.advance(10 * M);
    expect(fleet.settle().phase).toBe("Succeeded");
  });

  it("lets a cluster outside its window wait without a slot while its wave-mates proceed, then applies only the newest revision", () => {
    const fleet = fourClusters(
      spec({
        waves: [
          { name: "canary", clusters: { matchLabels: { ring: "canary" } } },
          { name: "rest", maxConcurrent: 1 },
        ],
      }),
    );
    fleet.clusters.get("prod-a")!.labels.window = "night";
    fleet.windows = parseWindows(
      [
        {
          schedule: "0 22 * * *",
          duration: "4h",
          timeZone: "Europe/Berlin",
          clusters: { matchLabels: { window: "night" } },
        },
      ],
      { file: "flotilla.yaml" },
      "windows",
    );
    fleet.newest = A;
    let d = fleet.settle(); // 09:00Z: night window closed
    expect(fleet.revisions()).toEqual({ "prod-canary": A, "prod-a": S, "prod-b": A, "prod-c": A });
    expect(d.waves[1]).toMatchObject({ updated: 2, waitingForWindow: 1, phase: "Succeeded" });
    expect(d.recheckAtMs).toBe(Date.parse("2026-04-07T20:00:00Z"));
    fleet.newest = B;
    fleet.settle();
    expect(fleet.revisions()["prod-a"]).toBe(S);
    fleet.clock.set("2026-04-07T20:00:00Z"); // 22:00 CEST
    d = fleet.settle();
    expect(fleet.applied.filter(([c]) => c === "prod-a").map(([, r]) => r)).toEqual([B]); // never A
    expect(d.phase).toBe("Succeeded");
  });

  it("a wave whose every cluster waits for its window waits too: it has proved nothing", () => {
    const fleet = fourClusters();
    fleet.windows = parseWindows(
      [{ schedule: "0 22 * * *", duration: "1h", clusters: { matchLabels: { ring: "canary" } } }],
      { file: "flotilla.yaml" },
      "windows",
    );
    fleet.newest = A;
    const d = fleet.settle();
    expect(d.waves[0]).toMatchObject({ waitingForWindow: 1, phase: "Progressing" });
    expect(Object.values(fleet.revisions())).toEqual([S, S, S, S]);
  });

  it("passes an empty wave without waiting for its soak", () => {
    const clock = new ManualClock(0);
    const fleet = new Fleet(threeWaves, clock).add("prod-x", {});
    fleet.newest = A;
    const d = fleet.settle();
    expect(d.phase).toBe("Succeeded");
    expect(d.waves.map((w) => [w.name, w.total, w.phase])).toEqual([
      ["canary", 0, "Succeeded"],
      ["early", 0, "Succeeded"],
      ["rest", 1, "Succeeded"],
    ]);
  });

  it("gives a new cluster that the rollout has not reached the stable revision", () => {
    const fleet = fourClusters();
    fleet.newest = A;
    fleet.settle();
    fleet.add("prod-d", {}, undefined);
    const d = fleet.settle();
    expect(d.pins.get("prod-d")).toBe(S);
    expect(fleet.revisions()["prod-d"]).toBe(S);
  });

  it("picks the same clusters again after a restart (same state, same observations, same pins)", () => {
    const fleet = fourClusters(spec({ waves: [{ name: "all", maxConcurrent: 2 }] }));
    fleet.newest = A;
    const first = fleet.step();
    const again = stepRollout({
      spec: fleet.spec,
      state: first.state,
      newest: A,
      clusters: fleet.observe(),
      control: fleet.control,
      nowMs: fleet.clock.now(),
    });
    expect([...again.pins]).toEqual([...first.pins]);
  });

  it("keeps status.waves to counts: the same size at 1,000 clusters as at 10", () => {
    const sizeAt = (n: number) => {
      const fleet = new Fleet(threeWaves, new ManualClock(0));
      for (let i = 0; i < n; i++)
        fleet.add(
          `prod-${String(i).padStart(4, "0")}`,
          i === 0 ? { ring: "canary" } : i < n / 10 ? { ring: "early" } : {},
        );
      fleet.newest = A;
      return JSON.stringify(fleet.settle().waves).length;
    };
    const small = sizeAt(10);
    const large = sizeAt(1000);
    expect(large).toBeLessThan(small + 20); // digits of the counts only
    expect(large).toBeLessThan(1000);
  });
});
