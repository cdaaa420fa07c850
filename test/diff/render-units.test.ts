import { describe, expect, it } from "vitest";
import type { Kustomization } from "../../src/core/flux.js";
import { MemoryTree } from "../../src/core/file-tree.js";
import { renderUnits } from "../../src/diff/render-units.js";

const unit = (cluster: string, name: string, path: string, labels?: Record<string, string>): Kustomization => ({
  apiVersion: "kustomize.toolkit.fluxcd.io/v1",
  kind: "Kustomization",
  metadata: { name, namespace: cluster, ...(labels ? { labels } : {}) },
  spec: {
    interval: "5m",
    path,
    prune: true,
    sourceRef: { kind: "GitRepository", name: "main", namespace: "flux-system" },
    kubeConfig: { secretRef: { name: `${cluster}-kubeconfig` } },
  },
});

describe("renderUnits", () => {
  const cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: default\n";
  const tree = new MemoryTree("test", [
    ["providers/cloud/v1/clusters/staging/common/cm.yaml", cm],
    ["providers/cloud/v1/clusters/staging/edge-1/cm.yaml", cm],
    ["tenants/cloud/common/cm.yaml", cm],
  ]);

  it("gives every unit of a cluster its environment, from the clusters/<env>/ path when the objects carry no label (Flux-compatible repositories)", () => {
    const units = renderUnits(
      [
        unit("edge-1", "tenants-common", "./tenants/cloud/common"),
        unit("edge-1", "common", "./providers/cloud/v1/clusters/staging/common"),
        unit("edge-1", "edge-1", "./providers/cloud/v1/clusters/staging/edge-1"),
      ],
      { main: tree },
      new Map(),
    );
    expect(units.map((u) => [u.unit, u.environment])).toEqual([
      ["edge-1/tenants-common", "staging"],
      ["edge-1/common", "staging"],
      ["edge-1/edge-1", "staging"],
    ]);
  });

  it("prefers the plan's environment label", () => {
    const units = renderUnits(
      [
        unit("edge-1", "common", "./providers/cloud/v1/clusters/staging/common", {
          "flotilla.dev/environment": "canary",
        }),
      ],
      { main: tree },
      new Map(),
    );
    expect(units[0]!.environment).toBe("canary");
  });
});
