import { describe, expect, it } from "vitest";
import { setNativeDefaults } from "../../src/apply/normalize.js";
import type { KubeObject } from "../../src/core/object.js";

describe("setNativeDefaults", () => {
  it("writes quantities given as YAML numbers as strings, as Flux's typed round trip does", () => {
    const quota = setNativeDefaults({
      apiVersion: "v1",
      kind: "ResourceQuota",
      metadata: { name: "q", namespace: "t" },
      spec: { hard: { pods: 20, "requests.storage": "0Gi", "limits.cpu": 0.5 } },
    });
    expect(quota.spec).toEqual({ hard: { pods: "20", "requests.storage": "0Gi", "limits.cpu": "0.5" } });
    const limits = setNativeDefaults({
      apiVersion: "v1",
      kind: "LimitRange",
      metadata: { name: "l", namespace: "t" },
      spec: { limits: [{ type: "Container", default: { cpu: 1, memory: "1Gi" }, maxLimitRequestRatio: { cpu: 2 } }] },
    });
    expect(limits.spec).toEqual({
      limits: [{ type: "Container", default: { cpu: "1", memory: "1Gi" }, maxLimitRequestRatio: { cpu: "2" } }],
    });
  });

  it("covers pod templates (containers, overhead, emptyDir), claims and autoscaler targets, and leaves other numbers alone", () => {
    const deployment = setNativeDefaults({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "d", namespace: "t" },
      spec: {
        replicas: 2,
        template: {
          spec: {
            containers: [
              { name: "c", ports: [{ containerPort: 80 }], resources: { limits: { cpu: 2 }, requests: { cpu: 0.25 } } },
            ],
            volumes: [{ name: "v", emptyDir: { sizeLimit: 1 } }],
          },
        },
      },
    });
    expect(deployment.spec).toEqual({
      replicas: 2,
      template: {
        spec: {
          containers: [
            {
              name: "c",
              ports: [{ containerPort: 80, protocol: "TCP" }],
              resources: { limits: { cpu: "2" }, requests: { cpu: "0.25" } },
            },
          ],
          volumes: [{ name: "v", emptyDir: { sizeLimit: "1" } }],
        },
      },
    });
    const sts = setNativeDefaults({
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata: { name: "s", namespace: "t" },
      spec: { volumeClaimTemplates: [{ spec: { resources: { requests: { storage: 1 } } } }] },
    });
    expect(sts.spec).toEqual({ volumeClaimTemplates: [{ spec: { resources: { requests: { storage: "1" } } } }] });
    const hpa = setNativeDefaults({
      apiVersion: "autoscaling/v2",
      kind: "HorizontalPodAutoscaler",
      metadata: { name: "h", namespace: "t" },
      spec: {
        minReplicas: 1,
        metrics: [{ type: "Pods", pods: { target: { type: "AverageValue", averageValue: 100 } } }],
      },
    });
    expect(hpa.spec).toEqual({
      minReplicas: 1,
      metrics: [{ type: "Pods", pods: { target: { type: "AverageValue", averageValue: "100" } } }],
    });
    // A custom resource's numbers are its schema's business.
    const custom: KubeObject = {
      apiVersion: "example.com/v1",
      kind: "ResourceQuota",
      metadata: { name: "c" },
      spec: { hard: { pods: 20 } },
    };
    expect(setNativeDefaults(custom).spec).toEqual({ hard: { pods: 20 } });
  });
});
