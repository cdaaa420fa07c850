import { describe, expect, it } from "vitest";
import { Gauge, Metrics } from "../../src/status/metrics.js";

describe("metrics", () => {
  it("removes series by label values, not by text: forgetting 'a' keeps 'a-b' and an object named like another's namespace", () => {
    const g = new Gauge("g", "help");
    g.set({ kind: "Kustomization", name: "a", namespace: "x" }, 1);
    g.set({ kind: "Kustomization", name: "a-b", namespace: "x" }, 1);
    g.set({ kind: "Kustomization", name: "x", namespace: "a" }, 1);
    g.set({ fullname: "a", namespace: "x" }, 1);
    g.remove({ name: "a", namespace: "x" });
    expect(g.render().split("\n").slice(2)).toEqual(['g{kind="Kustomization",name="a-b",namespace="x"} 1', 'g{kind="Kustomization",name="x",namespace="a"} 1', 'g{fullname="a",namespace="x"} 1']);
  });

  it("escapes label values and forgets an object's histogram series with the object", () => {
    const m = new Metrics();
    m.reconcileDuration.observe({ kind: "GitRepository", name: 'we"ird\\name\n', namespace: "ns" }, 1);
    expect(m.render()).toContain('gotk_reconcile_duration_seconds_count{kind="GitRepository",name="we\\"ird\\\\name\\n",namespace="ns"} 1\n');
    m.recordReady("GitRepository", "ns", 'we"ird\\name\n', "Unknown", { suspended: true });
    expect(m.info.get({ kind: "GitRepository", name: 'we"ird\\name\n', namespace: "ns", ready: "Unknown", suspended: "true", revision: "" })).toBe(1);
    m.forget("GitRepository", "ns", 'we"ird\\name\n');
    expect(m.render()).not.toContain("ird");
  });
});
