import { describe, expect, it } from "vitest";
import type { Kustomization } from "../../src/core/flux.js";
import { clusterOfUnit } from "../../src/core/flux.js";
import { age, formatTable, unitRows, unitSettled } from "../../src/status/table.js";

const now = new Date("2026-01-01T01:00:00Z");
const unit = (namespace: string, name: string, ready?: "True" | "False", message = ""): Kustomization => ({
  apiVersion: "kustomize.toolkit.fluxcd.io/v1",
  kind: "Kustomization",
  metadata: { namespace, name, creationTimestamp: "2026-01-01T00:39:00Z" },
  spec: {
    sourceRef: { kind: "GitRepository", name: "main" },
    interval: "1m",
    prune: true,
    ...(namespace !== "flux-system" ? { kubeConfig: { secretRef: { name: `${namespace}-kubeconfig` } } } : {}),
  },
  ...(ready
    ? { status: { conditions: [{ type: "Ready", status: ready, reason: "R", message, lastTransitionTime: "" }] } }
    : {}),
});

describe("status table", () => {
  it("names the target cluster from the kubeconfig Secret, else the management cluster", () => {
    expect(clusterOfUnit(unit("prod-eu-west-1", "common"))).toBe("prod-eu-west-1");
    expect(clusterOfUnit(unit("flux-system", "mgmt"))).toBe("mgmt");
  });

  it("prints units sorted, with Ready and the condition message", () => {
    const rows = unitRows([unit("b", "x", "True", "Applied revision: main@sha1:abc"), unit("a", "y")], now);
    expect(formatTable(rows, ["namespace", "name", "cluster", "ready", "status", "age"])).toBe(
      [
        "NAMESPACE   NAME   CLUSTER   READY     STATUS                            AGE",
        "a           y      a         Unknown   waiting to be reconciled          21m",
        "b           x      b         True      Applied revision: main@sha1:abc   21m",
        "",
      ].join("\n"),
    );
  });

  it("a unit is settled when Ready or suspended (up --once does not wait on a suspended unit forever)", () => {
    expect(unitSettled(unit("a", "x", "True"))).toBe(true);
    expect(unitSettled(unit("a", "x", "False"))).toBe(false);
    expect(unitSettled(unit("a", "x"))).toBe(false);
    const suspended = unit("a", "legacy");
    suspended.spec.suspend = true;
    expect(unitSettled(suspended)).toBe(true);
  });

  it("prints ages as kubectl does", () => {
    expect(age("2026-01-01T00:59:15Z", now)).toBe("45s");
    expect(age("2025-12-29T01:00:00Z", now)).toBe("3d");
  });
});
