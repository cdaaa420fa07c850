import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHarness, type Harness } from "../../src/provision/local/harness.js";
import { kube } from "../support/kubectl-free-client.js";

const running = (pid: number | undefined) => {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("local control planes: the apiserver profile", () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness({ profile: "apiserver", clusters: ["one", "two"] });
  });
  afterAll(() => harness?.stop());

  it("serves each cluster on its own port, with separate data", async () => {
    const [one, two] = [harness.get("one")!, harness.get("two")!];
    expect(one.server).not.toBe(two.server);
    const cm = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "only-in-one", namespace: "default" } };
    expect((await kube(one).post("/api/v1/namespaces/default/configmaps", cm)).status).toBe(201);
    expect((await kube(two).get("/api/v1/namespaces/default/configmaps/only-in-one")).status).toBe(404);
  });

  it("refuses requests without the admin token", async () => {
    const anonymous = kube({ ...harness.clusters[0]!, token: "wrong" });
    expect((await anonymous.get("/api/v1/namespaces")).status).toBe(401);
  });

  it("restarts a killed apiserver with its data kept", async () => {
    const one = harness.get("one")!;
    process.kill(one.apiserverPid()!, "SIGKILL");
    await kube(one).until(async () => !one.alive());
    await one.restart();
    expect((await kube(one).get("/api/v1/namespaces/default/configmaps/only-in-one")).status).toBe(200);
  });

  it("removes a cluster, stopping its process", async () => {
    const cp = await harness.add("three");
    const pid = cp.apiserverPid();
    expect(running(pid)).toBe(true);
    await harness.remove("three");
    expect(running(pid)).toBe(false);
  });
});

describe("local control planes: the full profile runs the real controllers", () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness({ profile: "full", clusters: ["full"] });
  });
  afterAll(() => harness?.stop());

  it("finalizes a deleted namespace", async () => {
    const k = kube(harness.clusters[0]!);
    await k.post("/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: "doomed" } });
    await k.post("/api/v1/namespaces/doomed/configmaps", {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "x" },
    });
    await k.del("/api/v1/namespaces/doomed");
    await k.until(async () => (await k.get("/api/v1/namespaces/doomed")).status === 404);
  });

  it("turns a Deployment into a ReplicaSet and Pods", async () => {
    const k = kube(harness.clusters[0]!);
    const deployment = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: "default" },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: "web" } },
        template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "nginx" }] } },
      },
    };
    expect((await k.post("/apis/apps/v1/namespaces/default/deployments", deployment)).status).toBe(201);
    await k.until(
      async () =>
        ((await k.get("/apis/apps/v1/namespaces/default/replicasets?labelSelector=app%3Dweb")).body.items?.length ??
          0) === 1,
    );
    await k.until(
      async () =>
        ((await k.get("/api/v1/namespaces/default/pods?labelSelector=app%3Dweb")).body.items?.length ?? 0) === 2,
    );
  });
});

describe("no process outlives its harness", () => {
  it("leaves no etcd or apiserver behind after stop", async () => {
    const h = await startHarness({ profile: "apiserver", clusters: ["gone"] });
    const pid = h.clusters[0]!.apiserverPid();
    await h.stop();
    expect(running(pid)).toBe(false);
    const children = execFileSync("ps", ["-o", "args=", "--ppid", String(process.pid)], { encoding: "utf8" }).split(
      "\n",
    );
    expect(children.filter((c) => /etcd|kube-|setpriv/.test(c))).toEqual([]);
  });
});
