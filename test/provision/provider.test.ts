import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { applyUnit } from "../../src/apply/apply.js";
import { ClusterClient } from "../../src/core/kube/index.js";
import type { KubeObject } from "../../src/core/object.js";
import { startHarness, type Harness } from "../../src/provision/local/harness.js";
import { LocalProvider } from "../../src/provision/local/provider.js";
import { kube } from "../support/kubectl-free-client.js";
import { installCrds } from "../support/management-cluster.js";

const cluster = (name: string, infra = "LocalCluster"): KubeObject[] => [
  { apiVersion: "v1", kind: "Namespace", metadata: { name } },
  {
    apiVersion: "cluster.x-k8s.io/v1beta1",
    kind: "Cluster",
    metadata: { name, namespace: name },
    spec: { infrastructureRef: { apiVersion: "infrastructure.cluster.x-k8s.io/v1beta1", kind: infra, name } },
  },
];

async function until<T>(check: () => Promise<T | undefined | false>, ms = 90_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 300));
  }
}

describe("the local Cluster API provider", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "flotilla-provider-"));
  let harness: Harness | undefined;
  let provider: LocalProvider | undefined;
  afterAll(async () => {
    await provider?.stop();
    await harness?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const boot = async () => {
    harness = await startHarness({ profile: "apiserver", dataDir });
    const mgmtPlane = await harness.add("mgmt");
    const mgmt = ClusterClient.fromKubeconfig(mgmtPlane.kubeconfig);
    provider = new LocalProvider({ mgmt, harness, standIn: true, intervalMs: 300 });
    return mgmt;
  };
  const secretOf = async (mgmt: ClusterClient, name: string) => {
    const s = await mgmt.request<{ type: string; data?: { value?: string } }>(
      "GET",
      `/api/v1/namespaces/${name}/secrets/${name}-kubeconfig`,
      undefined,
      { allow: [404] },
    );
    return s.status === 200 ? s.body : undefined;
  };

  it("provisions three clusters reachable with their kubeconfig Secrets, including a stand-in for a cloud Cluster", async () => {
    const mgmt = await boot();
    await installCrds(mgmt);
    await applyUnit(mgmt, {
      unit: { name: "mgmt", namespace: "flux-system" },
      objects: [...cluster("one"), ...cluster("two"), ...cluster("three", "AWSCluster")],
      prune: false,
      wait: false,
      timeoutMs: 60_000,
    });
    provider!.start();
    for (const name of ["one", "two", "three"]) {
      const secret = await until(() => secretOf(mgmt, name));
      expect(secret.type).toBe("cluster.x-k8s.io/secret");
      const workload = ClusterClient.fromKubeconfig(Buffer.from(secret.data!.value!, "base64").toString("utf8"));
      expect((await workload.request("GET", "/api/v1/namespaces/default")).status).toBe(200);
      workload.close();
      const c = await mgmt.request<{
        status: {
          phase: string;
          infrastructureReady: boolean;
          controlPlaneReady: boolean;
          conditions: Array<{ type: string; status: string }>;
        };
      }>("GET", `/apis/cluster.x-k8s.io/v1beta1/namespaces/${name}/clusters/${name}`);
      await until(
        async () =>
          (
            await mgmt.request<{ status?: { phase?: string } }>(
              "GET",
              `/apis/cluster.x-k8s.io/v1beta1/namespaces/${name}/clusters/${name}`,
            )
          ).body.status?.phase === "Provisioned",
      );
      void c;
    }
    const one = (
      await mgmt.request<{ status: Record<string, unknown> }>(
        "GET",
        "/apis/cluster.x-k8s.io/v1beta1/namespaces/one/clusters/one",
      )
    ).body.status;
    expect(one).toMatchObject({
      phase: "Provisioned",
      infrastructureReady: true,
      controlPlaneReady: true,
      conditions: [{ type: "Ready", status: "True" }],
    });
  });

  it("deleting a Cluster stops its control plane and removes its Secret", async () => {
    const mgmt = ClusterClient.fromKubeconfig(harness!.get("mgmt")!.kubeconfig);
    const pid = harness!.get("two")!.apiserverPid();
    await mgmt.request("DELETE", "/apis/cluster.x-k8s.io/v1beta1/namespaces/two/clusters/two");
    await until(async () => (await secretOf(mgmt, "two")) === undefined && !harness!.get("two"));
    expect(() => process.kill(pid!, 0)).toThrow();
    expect(
      (
        await mgmt.request("GET", "/apis/cluster.x-k8s.io/v1beta1/namespaces/two/clusters/two", undefined, {
          allow: [404],
        })
      ).status,
    ).toBe(404);
  });

  it("heals a cluster whose apiserver died", async () => {
    const one = harness!.get("one")!;
    const killed = one.apiserverPid()!;
    process.kill(killed, "SIGKILL");
    // A new apiserver process, not the killed one answering: the pid changes and the old one is gone.
    await until(
      async () =>
        one.alive() &&
        one.apiserverPid() !== undefined &&
        one.apiserverPid() !== killed &&
        (await kube(one).get("/api/v1/namespaces/default")).status === 200,
    );
    expect(one.apiserverPid()).not.toBe(killed);
    expect(() => process.kill(killed, 0)).toThrow(expect.objectContaining({ code: "ESRCH" }));
  });

  it("re-adopts its clusters after a restart, with their data", async () => {
    const one = harness!.get("one")!;
    await kube(one).post("/api/v1/namespaces/default/configmaps", {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "survives" },
    });
    const server = one.server;
    await provider!.stop();
    await harness!.stop();
    const mgmt = await boot();
    provider!.start();
    await until(async () => harness!.get("one")?.alive() && harness!.get("three")?.alive());
    expect(harness!.get("one")!.server).toBe(server);
    expect((await kube(harness!.get("one")!).get("/api/v1/namespaces/default/configmaps/survives")).status).toBe(200);
    const secret = await secretOf(mgmt, "one");
    expect(Buffer.from(secret!.data!.value!, "base64").toString("utf8")).toBe(harness!.get("one")!.kubeconfig);
  });
});
