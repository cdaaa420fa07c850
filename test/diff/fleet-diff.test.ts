import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../src/core/object.js";
import { diffFleet } from "../../src/diff/fleet-diff.js";
import { formatDiffMarkdown, formatDiffText } from "../../src/diff/format-diff.js";

const cm = (name: string, data: Record<string, string>, ns = "team"): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: ns },
  data,
});

describe("diffFleet", () => {
  it("reports object changes per cluster and unit, ignoring object order", () => {
    const base = [{ cluster: "c1", unit: "c1/common", objects: [cm("a", { x: "1" }), cm("b", { y: "1" })] }];
    const head = [{ cluster: "c1", unit: "c1/common", objects: [cm("b", { y: "1" }), cm("a", { x: "2" })] }];
    const diff = diffFleet(base, head);
    expect(diff.summary).toEqual({ clusters: 1, units: 1, added: 0, changed: 1, removed: 0 });
    expect(diff.clusters[0]!.units[0]!.objects[0]).toMatchObject({
      ref: "ConfigMap/team/a",
      change: "changed",
      fields: [{ path: "data.x", from: "1", to: "2" }],
    });
  });

  it("reports added and removed units with their objects", () => {
    const diff = diffFleet(
      [{ cluster: "c1", unit: "c1/old", objects: [cm("a", {})] }],
      [{ cluster: "c2", environment: "prod", unit: "c2/new", objects: [cm("b", {})] }],
    );
    expect(diff.clusters.map((c) => [c.cluster, c.units.map((u) => [u.unit, u.change])])).toEqual([
      ["c1", [["c1/old", "removed"]]],
      ["c2", [["c2/new", "added"]]],
    ]);
  });

  it("finds no change in identical renders", () => {
    const units = [{ cluster: "c1", unit: "c1/common", objects: [cm("a", { x: "1" })] }];
    expect(diffFleet(units, units).clusters).toEqual([]);
    expect(formatDiffText(diffFleet(units, units))).toBe("no changes\n");
  });

  it("masks a changed Secret value in every format", () => {
    const secret = (v: string): KubeObject => ({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "s", namespace: "team" },
      data: { password: v },
    });
    const diff = diffFleet(
      [{ cluster: "c1", unit: "c1/t", objects: [secret("b2xk")] }],
      [{ cluster: "c1", unit: "c1/t", objects: [secret("bmV3")] }],
    );
    for (const text of [formatDiffText(diff), formatDiffMarkdown(diff), JSON.stringify(diff)]) {
      expect(text).not.toContain("b2xk");
      expect(text).not.toContain("bmV3");
    }
    expect(formatDiffText(diff)).toContain("data.password: secret value changed");
  });

  it("keeps a Markdown comment within the limit and says what it left out", () => {
    const many = Array.from({ length: 50 }, (_, i) => ({
      cluster: `c${i}`,
      unit: `c${i}/u`,
      objects: [cm("a", { big: "x".repeat(2000) })],
    }));
    const changed = many.map((u) => ({ ...u, objects: [cm("a", { big: "y".repeat(2000) })] }));
    const md = formatDiffMarkdown(diffFleet(many, changed), 20_000);
    expect(md.length).toBeLessThanOrEqual(20_000);
    expect(md).toMatch(/Truncated: \d+ cluster section\(s\) left out/);
    expect(md).toContain("| c0 | `u` | 0/1/0 |");
  });
});
