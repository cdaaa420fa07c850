import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterClient } from "../../../src/core/kube/client.js";
import { startHarness, type Harness } from "../../../src/provision/local/harness.js";
import { until } from "../../support/until.js";

describe("the client's discovery and socket pool, on a real kube-apiserver", () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness({ profile: "apiserver", clusters: ["discovery"] });
  });
  afterAll(async () => {
    await harness?.stop();
  });

  it("maps kinds to resources and scopes, and clients of clusters that serve the same answer share one copy of it", async () => {
    const clients = [1, 2].map(() => ClusterClient.fromKubeconfig(harness.clusters[0]!.kubeconfig));
    try {
      const [a, b] = await Promise.all(clients.map((c) => c.discovery()));
      expect(a!.get("apps/v1/Deployment")).toMatchObject({
        resource: "deployments",
        namespaced: true,
        preferred: true,
      });
      expect(a!.get("/v1/Namespace")).toMatchObject({ resource: "namespaces", namespaced: false });
      expect(b).toBe(a);
      // A refresh that finds the same answer keeps the shared copy too.
      expect(await clients[0]!.discovery(true)).toBe(a);
    } finally {
      for (const c of clients) c.close();
    }
  });

  it("keeps at most its idle sockets open after a burst, and closes them once idle for the idle timeout", async () => {
    const client = ClusterClient.fromKubeconfig(harness.clusters[0]!.kubeconfig, {
      sockets: 8,
      idle: { sockets: 2, timeoutMs: 300 },
    });
    try {
      await Promise.all(Array.from({ length: 16 }, () => client.request("GET", "/api/v1/namespaces/default")));
      expect(client.idleSockets()).toBe(2);
      await until("the idle sockets to close", async () => client.idleSockets() === 0, 20_000);
    } finally {
      client.close();
    }
  });
});
