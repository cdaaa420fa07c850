import { describe, expect, it } from "vitest";
import { loads, place, type WeightedCluster } from "../../../src/controller/replicas/placement.js";

/** A seeded fleet: `n` clusters with 1 to 8 units each. */
function fleet(n: number, seed = 7): WeightedCluster[] {
  let s = seed;
  const rnd = () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  return Array.from({ length: n }, (_, i) => ({ id: `c${i}/c${i}-kubeconfig`, weight: 1 + Math.floor(rnd() * 8) }));
}
const replicas = (n: number) => Array.from({ length: n }, (_, i) => `flotilla-7d9f-${i}`);
const moved = (clusters: WeightedCluster[], a: Map<string, string>, b: Map<string, string>) =>
  clusters.filter((c) => a.get(c.id) !== b.get(c.id)).length / clusters.length;

describe("placement: consistent hashing with bounded loads", () => {
  it.each([2, 3, 5, 8])("spreads 1,000 weighted clusters over %i replicas within 1.25× of the mean load", (n) => {
    const clusters = fleet(1000);
    const placement = place(clusters, replicas(n));
    expect(placement.size).toBe(1000);
    const l = [...loads(clusters, placement).values()];
    const mean = clusters.reduce((sum, c) => sum + c.weight, 0) / n;
    expect(l).toHaveLength(n);
    expect(Math.max(...l) / mean).toBeLessThanOrEqual(1.25);
    // Every replica gets real work, not a sliver.
    expect(Math.min(...l) / mean).toBeGreaterThan(0.5);
  });

  it("spreads 6 equal clusters over 3 replicas exactly, and over 2 replicas 3 and 3", () => {
    const clusters = Array.from({ length: 6 }, (_, i) => ({ id: `c${i}/c${i}-kubeconfig`, weight: 2 }));
    const count = (p: Map<string, string>) => [...loads(clusters, p).values()].map((w) => w / 2).sort();
    expect(count(place(clusters, ["a", "b", "c"]))).toEqual([2, 2, 2]);
    expect(count(place(clusters, ["a", "c"]))).toEqual([3, 3]);
  });

  it.each([2, 3, 5, 8])("moves few clusters when a replica joins %i or one of them leaves", (n) => {
    const clusters = fleet(1000);
    const before = place(clusters, replicas(n));
    const joined = place(clusters, [...replicas(n), "flotilla-new"]);
    const left = place(clusters, replicas(n).slice(1));
    // The ideal is 1/(n+1) on a join and 1/n on a leave; bounded loads move a few more (the paper's cascade).
    const join = moved(clusters, before, joined);
    const leave = moved(clusters, before, left);
    expect(join).toBeGreaterThanOrEqual(0.5 / (n + 1));
    expect(join).toBeLessThanOrEqual(2.5 / (n + 1));
    expect(leave).toBeLessThanOrEqual(2.5 / n);
    // A replica that leaves loses every cluster; a join takes clusters only for the new replica.
    expect([...left.values()]).not.toContain(replicas(n)[0]);
    const toNew = clusters.filter((c) => joined.get(c.id) === "flotilla-new").length / clusters.length;
    expect(toNew).toBeGreaterThanOrEqual(0.5 / (n + 1));
  });

  it("is the same whatever order the clusters and replicas come in", () => {
    const clusters = fleet(200);
    const a = place(clusters, replicas(4));
    const b = place([...clusters].reverse(), [...replicas(4)].reverse());
    expect([...b].sort()).toEqual([...a].sort());
  });

  it("places nothing without replicas, and takes odd weights as 1", () => {
    expect(place(fleet(3), []).size).toBe(0);
    const odd = [
      { id: "a", weight: Number.NaN },
      { id: "b", weight: -4 },
      { id: "c", weight: 0 },
    ];
    const p = place(odd, ["r1", "r2"]);
    expect(p.size).toBe(3);
    expect([...loads(odd, p).values()].reduce((x, y) => x + y, 0)).toBe(3);
  });
});
