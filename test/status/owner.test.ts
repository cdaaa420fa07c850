import { describe, expect, it } from "vitest";
import type { Kustomization } from "../../src/core/flux.js";
import type { KubeObject } from "../../src/core/object.js";
import { fleetStatusOf, formatStatus } from "../../src/status/fleet-status.js";
import { clusterOwners } from "../../src/status/table.js";

const now = new Date("2026-01-01T01:00:00Z");
const unit = (namespace: string, name: string, cluster?: string): Kustomization =>
  ({
    apiVersion: "kustomize.toolkit.fluxcd.io/v1",
    kind: "Kustomization",
    metadata: { namespace, name, creationTimestamp: "2026-01-01T00:39:00Z" },
    spec: {
      sourceRef: { kind: "GitRepository", name: "main" },
      interval: "1m",
      prune: true,
      ...(cluster ? { kubeConfig: { secretRef: { name: `${cluster}-kubeconfig` } } } : {}),
    },
  }) as Kustomization;
const lease = (lane: unknown, holder: unknown, renewTime = "2026-01-01T00:59:55.000000Z"): KubeObject => ({
  apiVersion: "coordination.k8s.io/v1",
  kind: "Lease",
  metadata: {
    name: `l-${String(lane)}`,
    namespace: "flux-system",
    annotations: { "flotilla.dev/cluster": lane as string },
  },
  spec: { holderIdentity: holder, renewTime, leaseDurationSeconds: 15 },
});

describe("flotilla status: the OWNER of each unit's cluster (replicas)", () => {
  it("names the replica holding the Lease of the unit's cluster, '-' where none does, and marks an expired Lease", () => {
    const units = [
      unit("w1", "app", "w1"),
      unit("w2", "app", "w2"),
      unit("w3", "app", "w3"),
      unit("flux-system", "mgmt"),
    ];
    const leases = [
      lease("w1/w1-kubeconfig", "flotilla-abc-1"),
      lease("w2/w2-kubeconfig", "flotilla-abc-2", "2026-01-01T00:58:00.000000Z"),
      lease("mgmt", "flotilla-abc-2"),
      // Not a holder, not an annotation: ignored, whatever their shape.
      lease("w3/w3-kubeconfig", ""),
      lease(42, "x"),
      lease("w3/w3-kubeconfig", { name: "x" }),
    ];
    const status = fleetStatusOf({ units, leases }, now);
    expect(status.units.map((u) => [u.namespace, u.owner])).toEqual([
      ["flux-system", "flotilla-abc-2"],
      ["w1", "flotilla-abc-1"],
      ["w2", "flotilla-abc-2 (expired)"],
      ["w3", "-"],
    ]);
    expect(formatStatus(status).split("\n")[0]).toMatch(/^NAMESPACE\s+NAME\s+CLUSTER\s+OWNER\s+READY\s+STATUS\s+AGE$/);
  });

  it("has no OWNER column with one controller (no Leases)", () => {
    const status = fleetStatusOf({ units: [unit("w1", "app", "w1")] }, now);
    expect(status.units[0]!.owner).toBeUndefined();
    expect(formatStatus(status).split("\n")[0]).not.toContain("OWNER");
    expect(fleetStatusOf({ units: [unit("w1", "app", "w1")], leases: [] }, now).units[0]!.owner).toBeUndefined();
  });

  it("lists the holders of every replica set (shard) of a cluster", () => {
    expect(
      clusterOwners([lease("w1/w1-kubeconfig", "shard2-0"), lease("w1/w1-kubeconfig", "main-1")], now).get(
        "w1/w1-kubeconfig",
      ),
    ).toBe("main-1,shard2-0");
  });
});
