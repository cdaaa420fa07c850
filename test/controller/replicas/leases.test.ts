import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ClusterClient } from "../../../src/core/kube/index.js";
import { Replicas } from "../../../src/controller/replicas/replicas.js";
import { silentLogger } from "../../../src/core/log.js";
import { startHarness, type Harness } from "../../../src/provision/local/harness.js";
import { ManualClock } from "../../support/manual-clock.js";

/**
 * The Lease protocol of src/controller/replicas against a real apiserver, driven round by round on
 * a ManualClock with client-go's durations (lease 15 s, renew deadline 10 s, retry 2 s): placement
 * and exclusive ownership, takeover only once a Lease expired as observed, the fence by the
 * holder's own clock ending before anyone can take over, a gradual return with hysteresis and a
 * rate limit, and a shutdown that waits for work in flight and releases.
 */

const NS = "flotilla-leases";
const CLUSTERS = ["c1", "c2", "c3", "c4", "c5", "c6"].map((c) => `${c}/${c}-kubeconfig`);

describe("replicas on Leases (real apiserver, manual clock)", () => {
  let harness: Harness;
  let client: ClusterClient;
  let clock: ManualClock;
  let replicas: Map<string, Replicas>;
  const acquired: Array<[string, string]> = [];

  const make = (id: string) =>
    new Replicas(
      client,
      { identity: id, namespace: NS, shard: "default" },
      { clusters: () => CLUSTERS.map((id) => ({ id, weight: 2 })), onAcquired: (c) => acquired.push([id, c]) },
      clock,
      silentLogger,
    );
  const owners = () => new Map(CLUSTERS.map((c) => [c, [...replicas].filter(([, r]) => r.owns(c)).map(([id]) => id)]));
  const counts = (ids: string[]) => ids.map((id) => CLUSTERS.filter((c) => replicas.get(id)!.owns(c)).length);
  /** One round of each replica named, 2 s (the retry period) apart, checking that no cluster has two owners. */
  const rounds = async (ids: string[], n = 1) => {
    for (let i = 0; i < n; i++) {
      for (const id of ids) await replicas.get(id)!.tick();
      for (const [c, o] of owners()) expect(o.length, `${c} owned by ${o.join(", ")}`).toBeLessThanOrEqual(1);
      clock.advance(2_000);
    }
  };

  beforeAll(async () => {
    harness = await startHarness({ profile: "apiserver", clusters: ["mgmt"] });
    client = ClusterClient.fromKubeconfig(harness.get("mgmt")!.kubeconfig);
    await client.request("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
  }, 120_000);
  afterAll(async () => {
    client?.close();
    await harness?.stop();
  });
  beforeEach(async () => {
    await client.request("DELETE", `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`, undefined, { allow: [404] });
    clock = new ManualClock(Date.now());
    replicas = new Map(["a", "b", "c"].map((id) => [id, make(id)]));
    acquired.length = 0;
  });

  it("spreads the clusters 2/2/2, fails over only after the lease duration as observed, fences by the holder's own clock first, and moves back gradually", async () => {
    await rounds(["a", "b", "c"], 2);
    expect(counts(["a", "b", "c"])).toEqual([2, 2, 2]);
    const ofC = CLUSTERS.filter((c) => replicas.get("c")!.owns(c));

    // c stops (no more rounds): its Leases are not renewed after its last renewal.
    const leases = await client.request<{ items: Array<{ spec: { holderIdentity?: string; renewTime?: string } }> }>(
      "GET",
      `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases?labelSelector=flotilla.dev%2Flease%3Dcluster`,
    );
    const lastRenewal = Math.max(
      ...leases.body.items.filter((l) => l.spec.holderIdentity === "c").map((l) => Date.parse(l.spec.renewTime!)),
    );
    let takenAt: number | undefined;
    let cStoppedWriting: number | undefined;
    for (let i = 0; i < 15 && takenAt === undefined; i++) {
      await rounds(["a", "b"]);
      if (cStoppedWriting === undefined && ofC.every((c) => !replicas.get("c")!.owns(c))) cStoppedWriting = clock.now();
      if (ofC.every((c) => replicas.get("a")!.owns(c) || replicas.get("b")!.owns(c))) takenAt = clock.now();
    }
    // Taken over, but not before the lease duration (15 s) after c's last renewal, and within it plus 10 s…
    expect(takenAt).toBeDefined();
    expect(takenAt! - lastRenewal).toBeGreaterThanOrEqual(15_000);
    expect(takenAt! - lastRenewal).toBeLessThanOrEqual(15_000 + 10_000);
    // …and c, by its own clock, had stopped writing to them before that.
    expect(cStoppedWriting).toBeDefined();
    expect(cStoppedWriting!).toBeLessThan(takenAt!);
    for (let i = 0; i < 20 && counts(["a", "b"]).join() !== "3,3"; i++) await rounds(["a", "b"]);
    expect(counts(["a", "b"])).toEqual([3, 3]);

    // c comes back: it learns its Leases were taken, and gets two clusters back gradually.
    acquired.length = 0;
    const back = clock.now();
    const history: number[] = [];
    for (let i = 0; i < 30 && counts(["c"])[0] !== 2; i++) {
      await rounds(["c", "a", "b"]);
      history.push(counts(["c"])[0]!);
    }
    expect(replicas.get("c")!.status().lost).toBe(2);
    expect(counts(["a", "b", "c"])).toEqual([2, 2, 2]);
    // Hysteresis: nothing moved in the first lease duration after it came back; then one at a time.
    const firstMove = acquired.find(([id]) => id === "c");
    expect(firstMove).toBeDefined();
    expect(history.slice(0, 7).every((n) => n === 0)).toBe(true);
    expect(history.every((n, i) => i === 0 || n - history[i - 1]! <= 2)).toBe(true);
    expect(clock.now() - back).toBeGreaterThanOrEqual(15_000);
    expect(acquired.filter(([id]) => id === "c")).toHaveLength(2);
  });

  it("does not take a Lease another holder keeps renewing, and takes it once it is left to expire", async () => {
    const lane = CLUSTERS[0]!;
    const solo = new Map([["a", make("a")]]);
    replicas = solo;
    const created = await client.request<{ metadata: { resourceVersion: string } }>(
      "POST",
      `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`,
      {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: {
          name: "foreign",
          namespace: NS,
          labels: { "flotilla.dev/lease": "cluster", "flotilla.dev/shard": "default" },
          annotations: { "flotilla.dev/cluster": lane },
        },
        spec: { holderIdentity: "someone-else", leaseDurationSeconds: 15 },
      },
    );
    let lease = created.body as Record<string, unknown> & {
      metadata: { resourceVersion: string };
      spec: Record<string, unknown>;
    };
    // The other holder renews every 4 s, for 30 s: a never takes the cluster, though placement wants it there.
    for (let t = 0; t < 30_000; t += 2_000) {
      await rounds(["a"]);
      expect(solo.get("a")!.owns(lane)).toBe(false);
      if (t % 4_000 === 0)
        lease = (
          await client.request<typeof lease>("PUT", `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/foreign`, {
            ...lease,
            spec: { ...lease.spec, renewTime: new Date(clock.now()).toISOString().replace("Z", "000Z") },
          })
        ).body;
    }
    expect(CLUSTERS.filter((c) => solo.get("a")!.owns(c))).toHaveLength(5);
    const lastRenewal = clock.now();
    let takenAt: number | undefined;
    for (let i = 0; i < 12 && takenAt === undefined; i++) {
      await rounds(["a"]);
      if (solo.get("a")!.owns(lane)) takenAt = clock.now();
    }
    expect(takenAt! - lastRenewal).toBeGreaterThanOrEqual(15_000);
    const taken = await client.request<{ spec: { holderIdentity: string; leaseTransitions: number } }>(
      "GET",
      `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/foreign`,
    );
    expect(taken.body.spec).toMatchObject({ holderIdentity: "a", leaseTransitions: 1 });
  });

  it("on stop, waits for the work in flight on a cluster, then deletes its Leases", async () => {
    await rounds(["a", "b", "c"], 2);
    const a = replicas.get("a")!;
    const mine = CLUSTERS.filter((c) => a.owns(c));
    let finished = 0;
    const work = a.track(mine[0]!, () =>
      new Promise<void>((r) => setTimeout(r, 600)).then(() => void (finished = Date.now())),
    );
    const started = Date.now();
    await a.stop();
    const stopped = Date.now();
    await work;
    expect(finished).toBeGreaterThan(0);
    expect(finished).toBeLessThanOrEqual(stopped);
    expect(Date.now() - started).toBeGreaterThanOrEqual(550);
    expect(mine.every((c) => !a.owns(c))).toBe(true);
    const left = await client.request<{ items: Array<{ spec: { holderIdentity?: string } }> }>(
      "GET",
      `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`,
    );
    expect(left.body.items.filter((l) => l.spec.holderIdentity === "a")).toEqual([]);
    // The others take a's clusters at their next round: released, not left to expire.
    await rounds(["b", "c"]);
    expect(CLUSTERS.every((c) => replicas.get("b")!.owns(c) || replicas.get("c")!.owns(c))).toBe(true);
  });
});
