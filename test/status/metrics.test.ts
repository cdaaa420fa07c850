import { describe, expect, it } from "vitest";
import { Gauge, Metrics } from "../../src/status/metrics.js";

describe("metrics", () => {
  it("runs its collectors at each scrape, so figures kept elsewhere show as they are then", () => {
    const m = new Metrics();
    let sent = 1;
    m.onCollect(() => m.kubeRequests.set({ target: "management", verb: "patch" }, sent));
    expect(m.render()).toContain('flotilla_kube_requests_total{target="management",verb="patch"} 1\n');
    sent = 5;
    expect(m.render()).toContain('flotilla_kube_requests_total{target="management",verb="patch"} 5\n');
  });

  it("removes series by label values, not by text: forgetting 'a' keeps 'a-b' and an object named like another's namespace", () => {
    const g = new Gauge("g", "help");
    g.set({ kind: "Kustomization", name: "a", namespace: "x" }, 1);
    g.set({ kind: "Kustomization", name: "a-b", namespace: "x" }, 1);
    g.set({ kind: "Kustomization", name: "x", namespace: "a" }, 1);
    g.set({ fullname: "a", namespace: "x" }, 1);
    g.remove({ name: "a", namespace: "x" });
    expect(g.render().split("\n").slice(2)).toEqual([
      'g{kind="Kustomization",name="a-b",namespace="x"} 1',
      'g{kind="Kustomization",name="x",namespace="a"} 1',
      'g{fullname="a",namespace="x"} 1',
    ]);
  });

  it("escapes label values and forgets an object's histogram series with the object", () => {
    const m = new Metrics();
    m.reconcileDuration.observe({ kind: "GitRepository", name: 'we"ird\\name\n', namespace: "ns" }, 1);
    expect(m.render()).toContain(
      'gotk_reconcile_duration_seconds_count{kind="GitRepository",name="we\\"ird\\\\name\\n",namespace="ns"} 1\n',
    );
    m.recordReady("GitRepository", "ns", 'we"ird\\name\n', "Unknown", { suspended: true });
    expect(
      m.info.get({
        kind: "GitRepository",
        name: 'we"ird\\name\n',
        namespace: "ns",
        ready: "Unknown",
        suspended: "true",
        revision: "",
      }),
    ).toBe(1);
    m.forget("GitRepository", "ns", 'we"ird\\name\n');
    expect(m.render()).not.toContain("ird");
  });

  it("keeps one gotk_resource_info series per object through many status changes, and forgets objects one by one", () => {
    const m = new Metrics();
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 300; i++)
        m.recordReady("Kustomization", `c${i % 30}`, `u${i}`, round === 1 ? "False" : "True", {
          revision: `main@sha1:${round}`,
        });
    }
    const info = () =>
      m
        .render()
        .split("\n")
        .filter((l) => l.startsWith("gotk_resource_info{"));
    expect(info()).toHaveLength(300);
    expect(info().every((l) => l.includes('ready="True"') && l.includes('revision="main@sha1:2"'))).toBe(true);
    m.forget("Kustomization", "c7", "u7");
    m.forget("Kustomization", "c7", "u37");
    expect(info()).toHaveLength(298);
    expect(m.render()).not.toMatch(/name="u7",namespace="c7"|name="u37",namespace="c7"/);
    expect(m.render()).toContain('name="u67",namespace="c7"');
    m.recordReady("Kustomization", "c7", "u7", "Unknown");
    expect(info()).toHaveLength(299);
    // A match without an object falls back to comparing every series.
    m.condition.remove({ status: "Unknown" });
    expect(m.render()).not.toMatch(/^gotk_reconcile_condition\{.*status="Unknown"/m);
  });
});
