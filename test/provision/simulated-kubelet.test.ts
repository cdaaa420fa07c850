/* eslint-disable @typescript-eslint/no-explicit-any -- API responses are arbitrary JSON */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHarness, type Harness } from "../../src/provision/local/harness.js";
import { kube } from "../support/kubectl-free-client.js";

const condition = (obj: any, type: string): string | undefined =>
  obj?.status?.conditions?.find((c: any) => c.type === type)?.status;

function deployment(name: string, image: string, replicas = 2): unknown {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: "default" },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "main", image }] } },
    },
  };
}

describe("the simulated kubelet under the real controllers of the full profile", () => {
  let harness: Harness;
  let k: ReturnType<typeof kube>;
  beforeAll(async () => {
    harness = await startHarness({
      profile: "full",
      clusters: ["sim"],
      simulatedKubelet: { leaseRenewMs: 1000, crashLoopBackoffMs: 500 },
    });
    k = kube(harness.clusters[0]!);
  });
  afterAll(() => harness?.stop());

  it("registers Ready simulated nodes with capacity and renews their leases", async () => {
    const nodes = (await k.get("/api/v1/nodes")).body.items as any[];
    expect(nodes.map((n) => n.metadata.name).sort()).toEqual([
      "simulated-node-0",
      "simulated-node-1",
      "simulated-node-2",
    ]);
    for (const n of nodes) {
      expect(condition(n, "Ready")).toBe("True");
      expect(n.metadata.labels["flotilla.dev/simulated"]).toBe("true");
      expect(n.status.allocatable.pods).toBe("250");
      expect(n.spec.taints ?? []).toEqual([]);
    }
    const leasePath = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/simulated-node-0";
    const first = (await k.get(leasePath)).body.spec.renewTime as string;
    await k.until(async () => (await k.get(leasePath)).body.spec.renewTime !== first, 5000);
  });

  it("rolls a Deployment out to Available through ReplicaSet, scheduler and Pods", async () => {
    expect(
      (await k.post("/apis/apps/v1/namespaces/default/deployments", deployment("web", "nginx:1.25", 3))).status,
    ).toBe(201);
    const d = await k.until(async () => {
      const got = (await k.get("/apis/apps/v1/namespaces/default/deployments/web")).body;
      return condition(got, "Available") === "True" &&
        got.status.availableReplicas === 3 &&
        got.status.updatedReplicas === 3
        ? got
        : undefined;
    }, 30_000);
    expect(d.status.readyReplicas).toBe(3);
    const pods = (await k.get("/api/v1/namespaces/default/pods?labelSelector=app%3Dweb")).body.items as any[];
    expect(pods).toHaveLength(3);
    for (const p of pods) {
      expect(p.spec.nodeName).toMatch(/^simulated-node-\d$/);
      expect(p.status.phase).toBe("Running");
      expect(condition(p, "Ready")).toBe("True");
      expect(p.status.podIP).toMatch(/^10\.128\.\d+\.\d+$/);
      expect(p.status.containerStatuses[0].state.running.startedAt).toBeTruthy();
    }
    expect(new Set(pods.map((p) => p.status.podIP)).size).toBe(3);
  });

  it("completes a Job", async () => {
    const job = {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name: "once", namespace: "default" },
      spec: {
        completions: 2,
        parallelism: 1,
        template: {
          spec: { restartPolicy: "Never", containers: [{ name: "main", image: "busybox", command: ["true"] }] },
        },
      },
    };
    expect((await k.post("/apis/batch/v1/namespaces/default/jobs", job)).status).toBe(201);
    const done = await k.until(async () => {
      const got = (await k.get("/apis/batch/v1/namespaces/default/jobs/once")).body;
      return condition(got, "Complete") === "True" ? got : undefined;
    }, 30_000);
    expect(done.status.succeeded).toBe(2);
    const pods = (await k.get("/api/v1/namespaces/default/pods?labelSelector=job-name%3Donce")).body.items as any[];
    expect(pods.map((p) => p.status.phase)).toEqual(["Succeeded", "Succeeded"]);
    expect(pods[0].status.containerStatuses[0].state.terminated.reason).toBe("Completed");
  });

  it("rolls out a StatefulSet with volume claims, and a DaemonSet on every node", async () => {
    const sts = {
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata: { name: "db", namespace: "default" },
      spec: {
        serviceName: "db",
        replicas: 2,
        selector: { matchLabels: { app: "db" } },
        template: {
          metadata: { labels: { app: "db" } },
          spec: {
            containers: [{ name: "db", image: "postgres:16", volumeMounts: [{ name: "data", mountPath: "/data" }] }],
          },
        },
        volumeClaimTemplates: [
          {
            metadata: { name: "data" },
            spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
          },
        ],
      },
    };
    const ds = {
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      metadata: { name: "agent", namespace: "default" },
      spec: {
        selector: { matchLabels: { app: "agent" } },
        template: {
          metadata: { labels: { app: "agent" } },
          spec: { nodeSelector: { "kubernetes.io/os": "linux" }, containers: [{ name: "agent", image: "fluent-bit" }] },
        },
      },
    };
    expect((await k.post("/apis/apps/v1/namespaces/default/statefulsets", sts)).status).toBe(201);
    expect((await k.post("/apis/apps/v1/namespaces/default/daemonsets", ds)).status).toBe(201);
    await k.until(async () => {
      const got = (await k.get("/apis/apps/v1/namespaces/default/statefulsets/db")).body;
      return got.status?.readyReplicas === 2 && got.status?.currentReplicas === 2;
    }, 30_000);
    const claims = (await k.get("/api/v1/namespaces/default/persistentvolumeclaims")).body.items as any[];
    expect(claims.map((c) => [c.metadata.name, c.status.phase])).toEqual([
      ["data-db-0", "Bound"],
      ["data-db-1", "Bound"],
    ]);
    const got = await k.until(async () => {
      const d = (await k.get("/apis/apps/v1/namespaces/default/daemonsets/agent")).body;
      return d.status?.desiredNumberScheduled === 3 && d.status.numberReady === 3 && d.status.numberAvailable === 3
        ? d
        : undefined;
    }, 30_000);
    expect(got.status.updatedNumberScheduled).toBe(3);
    const pods = (await k.get("/api/v1/namespaces/default/pods?labelSelector=app%3Dagent")).body.items as any[];
    expect(pods.map((p) => p.spec.nodeName).sort()).toEqual([
      "simulated-node-0",
      "simulated-node-1",
      "simulated-node-2",
    ]);
  });

  it("never makes a crash-looping image Ready, so its Deployment is not Available", async () => {
    expect(
      (await k.post("/apis/apps/v1/namespaces/default/deployments", deployment("broken", "example.com/crashloop:1", 1)))
        .status,
    ).toBe(201);
    const pod = await k.until(async () => {
      const p = ((await k.get("/api/v1/namespaces/default/pods?labelSelector=app%3Dbroken")).body.items as any[])[0];
      return p?.status?.containerStatuses?.[0]?.restartCount >= 3 ? p : undefined;
    }, 20_000);
    expect(pod.status.phase).toBe("Running");
    expect(condition(pod, "Ready")).toBe("False");
    expect(pod.status.containerStatuses[0].state.waiting.reason).toBe("CrashLoopBackOff");
    const d = (await k.get("/apis/apps/v1/namespaces/default/deployments/broken")).body;
    expect(condition(d, "Available")).toBe("False");
    expect(d.status.availableReplicas ?? 0).toBe(0);
  });

  it("removes a deleted Pod at once, and its ReplicaSet replaces it", async () => {
    const pods = (await k.get("/api/v1/namespaces/default/pods?labelSelector=app%3Dweb")).body.items as any[];
    const victim = pods[0];
    const started = Date.now();
    expect((await k.del(`/api/v1/namespaces/default/pods/${victim.metadata.name}`)).status).toBe(200);
    await k.until(
      async () => (await k.get(`/api/v1/namespaces/default/pods/${victim.metadata.name}`)).status === 404,
      10_000,
    );
    // A kubelet that ignored deletion would leave the Pod for its 30 s grace period.
    expect(Date.now() - started).toBeLessThan(10_000);
    await k.until(async () => {
      const now = (await k.get("/api/v1/namespaces/default/pods?labelSelector=app%3Dweb")).body.items as any[];
      return now.length === 3 && now.every((p) => condition(p, "Ready") === "True");
    }, 20_000);
  });

  it("picks up where it was after its apiserver restarts", async () => {
    const cp = harness.clusters[0]!;
    await cp.restart();
    expect(
      (await k.post("/apis/apps/v1/namespaces/default/deployments", deployment("after", "nginx:1.25", 1))).status,
    ).toBe(201);
    await k.until(
      async () =>
        condition((await k.get("/apis/apps/v1/namespaces/default/deployments/after")).body, "Available") === "True",
      30_000,
    );
    const web = (await k.get("/apis/apps/v1/namespaces/default/deployments/web")).body;
    expect(web.status.availableReplicas).toBe(3);
  });
});

describe("what the simulated kubelet does with a Pod", () => {
  const kubeconfig = [
    "apiVersion: v1",
    "kind: Config",
    "current-context: x",
    "contexts: [{name: x, context: {cluster: x, user: x}}]",
    "clusters: [{name: x, cluster: {server: 'https://127.0.0.1:1'}}]",
    "users: [{name: x, user: {token: t}}]",
  ].join("\n");
  const pod = (image: string, restartPolicy?: string) => ({
    spec: { containers: [{ name: "c", image }], ...(restartPolicy ? { restartPolicy } : {}) },
  });

  it("runs, completes, crash-loops or fails by image and restart policy", async () => {
    const { SimulatedKubelet } = await import("../../src/provision/local/simulated-kubelet.js");
    const kubelet = new SimulatedKubelet(kubeconfig);
    expect(kubelet.fateOf(pod("nginx"))).toBe("run");
    expect(kubelet.fateOf(pod("busybox", "Never"))).toBe("complete");
    expect(kubelet.fateOf(pod("busybox", "OnFailure"))).toBe("complete");
    expect(kubelet.fateOf(pod("registry/crashloop:1"))).toBe("crashloop");
    expect(kubelet.fateOf(pod("registry/crashloop:1", "OnFailure"))).toBe("crashloop");
    expect(kubelet.fateOf(pod("registry/crashloop:1", "Never"))).toBe("fail");
    expect(
      kubelet.fateOf({
        spec: { initContainers: [{ name: "i", image: "crashloop" }], containers: [{ name: "c", image: "nginx" }] },
      }),
    ).toBe("crashloop");
    const custom = new SimulatedKubelet(kubeconfig, { crashLoopImage: /:broken$/ });
    expect(custom.fateOf(pod("app:broken"))).toBe("crashloop");
    expect(custom.fateOf(pod("crashloop"))).toBe("run");
    expect(kubelet.nodeNames).toEqual(["simulated-node-0", "simulated-node-1", "simulated-node-2"]);
    await Promise.all([kubelet.stop(), custom.stop()]);
  });
});
