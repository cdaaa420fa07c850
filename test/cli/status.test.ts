import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ClusterClient } from "../../src/apply/index.js";
import { readKubeconfig, run } from "../../src/cli/status.js";
import { ResourceWatch } from "../../src/controller/index.js";
import { readFleetStatus, watchFleetStatus, type FleetStatus, type OpenWatch } from "../../src/status/index.js";
import { describeError } from "../../src/core/errors.js";
import type { Condition } from "../../src/core/flux.js";
import { startHarness, type Harness } from "../../src/provision/local/harness.js";
import { capture } from "../support/capture-output.js";
import { installCrds } from "../support/management-cluster.js";

const KS = "/apis/kustomize.toolkit.fluxcd.io/v1";
const CAPI = "/apis/cluster.x-k8s.io/v1beta1";

const ready = (
  status: Condition["status"],
  message: string,
  reason = status === "True" ? "ReconciliationSucceeded" : "BuildFailed",
): Condition[] => [
  { type: "Ready", status, reason, message, lastTransitionTime: new Date().toISOString().replace(/\.\d{3}Z$/, "Z") },
];

describe("flotilla status against a real management apiserver", () => {
  let harness: Harness;
  let mgmt: ClusterClient;
  let tmp: string;
  let kubeconfig: string;
  let bareKubeconfig: string;

  /** Creates a Kustomization, then writes its status through the status subresource. */
  async function unit(
    namespace: string,
    name: string,
    opts: { cluster?: string; conditions?: Condition[]; suspend?: boolean },
  ) {
    const spec = {
      interval: "10m",
      path: `./${name}`,
      prune: true,
      sourceRef: { kind: "GitRepository", name: "main", namespace: "flux-system" },
      ...(opts.cluster ? { kubeConfig: { secretRef: { name: `${opts.cluster}-kubeconfig` } } } : {}),
      ...(opts.suspend ? { suspend: true } : {}),
    };
    const created = await mgmt.request<{ metadata: { resourceVersion: string } }>(
      "POST",
      `${KS}/namespaces/${namespace}/kustomizations`,
      {
        apiVersion: "kustomize.toolkit.fluxcd.io/v1",
        kind: "Kustomization",
        metadata: { name, namespace },
        spec,
      },
    );
    if (opts.conditions) await setUnitStatus(namespace, name, opts.conditions);
    return created.body;
  }
  async function setUnitStatus(namespace: string, name: string, conditions: Condition[]) {
    await mgmt.request(
      "PATCH",
      `${KS}/namespaces/${namespace}/kustomizations/${name}/status`,
      { status: { conditions, observedGeneration: 1 } },
      { contentType: "application/merge-patch+json" },
    );
  }
  async function cluster(
    namespace: string,
    name: string,
    phase: string | undefined,
    readyStatus?: Condition["status"],
  ) {
    await mgmt.request("POST", `${CAPI}/namespaces/${namespace}/clusters`, {
      apiVersion: "cluster.x-k8s.io/v1beta1",
      kind: "Cluster",
      metadata: { name, namespace },
      spec: {},
    });
    if (phase) await setClusterStatus(namespace, name, phase, readyStatus ?? "False");
  }
  async function setClusterStatus(namespace: string, name: string, phase: string, readyStatus: Condition["status"]) {
    await mgmt.request(
      "PATCH",
      `${CAPI}/namespaces/${namespace}/clusters/${name}/status`,
      { status: { phase, conditions: ready(readyStatus, phase, phase) } },
      { contentType: "application/merge-patch+json" },
    );
  }
  const namespace = (name: string) =>
    mgmt.request("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name } });

  beforeAll(async () => {
    harness = await startHarness({ profile: "apiserver", clusters: ["mgmt", "bare"] });
    mgmt = ClusterClient.fromKubeconfig(harness.get("mgmt")!.kubeconfig);
    await installCrds(mgmt);
    for (const ns of ["flux-system", "non-prod-eu-west-1", "prod-eu-west-1"]) await namespace(ns);
    tmp = mkdtempSync(join(tmpdir(), "flotilla-status-"));
    kubeconfig = join(tmp, "mgmt.kubeconfig");
    writeFileSync(kubeconfig, harness.get("mgmt")!.kubeconfig);
    bareKubeconfig = join(tmp, "bare.kubeconfig");
    writeFileSync(bareKubeconfig, harness.get("bare")!.kubeconfig);

    await unit("flux-system", "mgmt", {
      conditions: ready("True", "Applied revision: main@sha1:1111111111111111111111111111111111111111"),
    });
    await unit("non-prod-eu-west-1", "common", {
      cluster: "non-prod-eu-west-1",
      conditions: ready("True", "Applied revision: main@sha1:2222222222222222222222222222222222222222"),
    });
    await unit("non-prod-eu-west-1", "tenants-non-prod", {
      cluster: "non-prod-eu-west-1",
      conditions: ready("False", "kustomization.yaml: field 'resources'\nfile 'quota.yaml' does not exist"),
    });
    await unit("prod-eu-west-1", "common", { cluster: "prod-eu-west-1" });
    await cluster("non-prod-eu-west-1", "non-prod-eu-west-1", "Provisioned", "True");
    await cluster("prod-eu-west-1", "prod-eu-west-1", "Provisioning", "False");
  }, 150_000);
  afterAll(async () => {
    mgmt?.close();
    await harness?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("prints every unit of every namespace and the clusters with their phase; exit 1 while one is not Ready", async () => {
    const { code, out, err } = await capture(() => run(["--kubeconfig", kubeconfig]));
    expect(err).toBe("");
    expect(code).toBe(1);
    const lines = out.split("\n");
    expect(lines[0]).toMatch(/^NAMESPACE\s+NAME\s+CLUSTER\s+READY\s+STATUS\s+AGE$/);
    const rows = lines.slice(1, 5).map((l) => l.split(/\s{3,}/));
    expect(rows.map((r) => r.slice(0, 5))).toEqual([
      ["flux-system", "mgmt", "mgmt", "True", "Applied revision: main@sha1:1111111111111111111111111111111111111111"],
      [
        "non-prod-eu-west-1",
        "common",
        "non-prod-eu-west-1",
        "True",
        "Applied revision: main@sha1:2222222222222222222222222222222222222222",
      ],
      [
        "non-prod-eu-west-1",
        "tenants-non-prod",
        "non-prod-eu-west-1",
        "False",
        "kustomization.yaml: field 'resources' file 'quota.yaml' does not exist",
      ],
      ["prod-eu-west-1", "common", "prod-eu-west-1", "Unknown", "waiting to be reconciled"],
    ]);
    for (const r of rows) expect(r[5]).toMatch(/^\d+s$/);
    expect(lines[5]).toBe("");
    expect(lines[6]).toMatch(/^NAMESPACE\s+NAME\s+PHASE\s+READY\s+AGE$/);
    expect(lines.slice(7, 9).map((l) => l.split(/\s{3,}/).slice(0, 4))).toEqual([
      ["non-prod-eu-west-1", "non-prod-eu-west-1", "Provisioned", "True"],
      ["prod-eu-west-1", "prod-eu-west-1", "Provisioning", "False"],
    ]);
    expect(lines.slice(9)).toEqual(["", "2/4 units Ready, 1/2 clusters Ready", ""]);
  });

  it("--json prints both lists and the verdict", async () => {
    const { code, out } = await capture(() => run(["--kubeconfig", kubeconfig, "--json"]));
    expect(code).toBe(1);
    const status = JSON.parse(out) as FleetStatus;
    expect(status.ready).toBe(false);
    expect(status.clusterApi).toBe(true);
    expect(status.units.map((u) => [u.namespace, u.name, u.cluster, u.ready])).toEqual([
      ["flux-system", "mgmt", "mgmt", "True"],
      ["non-prod-eu-west-1", "common", "non-prod-eu-west-1", "True"],
      ["non-prod-eu-west-1", "tenants-non-prod", "non-prod-eu-west-1", "False"],
      ["prod-eu-west-1", "common", "prod-eu-west-1", "Unknown"],
    ]);
    expect(status.clusters.map((c) => [c.name, c.phase, c.ready])).toEqual([
      ["non-prod-eu-west-1", "Provisioned", "True"],
      ["prod-eu-west-1", "Provisioning", "False"],
    ]);
  });

  it("--watch prints again when a unit or cluster changes (not when only ages do), from the watch without listing again, and ends on abort", async () => {
    const stop = new AbortController();
    const outputs: string[] = [];
    const client = ClusterClient.fromKubeconfig(harness.get("mgmt")!.kubeconfig);
    const watchClient = ClusterClient.fromKubeconfig(harness.get("mgmt")!.kubeconfig);
    const openWatch: OpenWatch = (path, onEvent) => new ResourceWatch(watchClient, path, { onEvent });
    const waitFor = async (n: number) => {
      for (let i = 0; i < 200 && outputs.length < n; i++) await new Promise((r) => setTimeout(r, 50));
      expect(outputs.length).toBeGreaterThanOrEqual(n);
    };
    const watching = watchFleetStatus(client, {
      signal: stop.signal,
      json: true,
      openWatch,
      write: (t) => outputs.push(t),
      warn: (t) => outputs.push(`warn: ${t}`),
    });
    try {
      await waitFor(1);
      await new Promise((r) => setTimeout(r, 1_200)); // ages tick, nothing else does: no new print
      expect(outputs.length).toBe(1);
      await setUnitStatus(
        "non-prod-eu-west-1",
        "tenants-non-prod",
        ready("True", "Applied revision: main@sha1:3333333333333333333333333333333333333333"),
      );
      await waitFor(2);
      await setUnitStatus(
        "prod-eu-west-1",
        "common",
        ready("True", "Applied revision: v0.0.3@sha1:4444444444444444444444444444444444444444"),
      );
      await setClusterStatus("prod-eu-west-1", "prod-eu-west-1", "Provisioned", "True");
      for (let i = 0; i < 100 && !(JSON.parse(outputs.at(-1)!) as FleetStatus).ready; i++)
        await new Promise((r) => setTimeout(r, 50));
    } finally {
      stop.abort();
    }
    const last = await watching;
    // One list of each collection (units, clusters, rollouts, the replicas' cluster Leases) found what the cluster serves; every change after it came from the watch.
    expect(client.counts.list).toBe(4);
    client.close();
    watchClient.close();
    expect(last?.ready).toBe(true);
    const printed = outputs.map((o) => JSON.parse(o) as FleetStatus & { time: string });
    expect(printed[0]!.units.find((u) => u.name === "tenants-non-prod")!.ready).toBe("False");
    expect(printed[1]!.units.find((u) => u.name === "tenants-non-prod")!.ready).toBe("True");
    expect(printed.at(-1)!.ready).toBe(true);
    expect(outputs.every((o) => o.endsWith("}\n") && !o.slice(0, -1).includes("\n"))).toBe(true);
  });

  it("exits 0 once every unit and cluster is Ready; --watch via the command stops on SIGINT", async () => {
    const once = await capture(() => run(["--kubeconfig", kubeconfig]));
    expect(once.code).toBe(0);
    expect(once.out).toContain("4/4 units Ready, 2/2 clusters Ready\n");
    const watched = await capture(async () => {
      const running = run(["--kubeconfig", kubeconfig, "--watch"]);
      await new Promise((r) => setTimeout(r, 500));
      process.emit("SIGINT");
      return running;
    });
    expect(watched.code).toBe(0);
    expect(watched.out.match(/^NAMESPACE\s+NAME\s+CLUSTER/gm)).toHaveLength(1);
  });

  it("reads the kubeconfig from KUBECONFIG (first existing file) when there is no --kubeconfig", async () => {
    vi.stubEnv("KUBECONFIG", `${join(tmp, "missing")}:${kubeconfig}`);
    try {
      const { code, out } = await capture(() => run(["--json"]));
      expect(code).toBe(0);
      expect((JSON.parse(out) as FleetStatus).units).toHaveLength(4);
    } finally {
      vi.unstubAllEnvs();
    }
    expect(() => readKubeconfig(undefined, {}, join(tmp, "no-home"))).toThrow(
      /no kubeconfig: none of '.*no-home\/\.kube\/config' exists/,
    );
    expect(() => readKubeconfig(join(tmp, "nope"))).toThrow(/kubeconfig '.*nope' does not exist/);
    const error = (() => {
      try {
        readKubeconfig(join(tmp, "nope"));
      } catch (e) {
        return e;
      }
    })();
    expect(describeError(error)).toBe(
      `${join(tmp, "nope")}: --kubeconfig: kubeconfig '${join(tmp, "nope")}' does not exist`,
    );
  });

  it("on a cluster without Flotilla's CRDs, fails with an error that says so", async () => {
    const client = ClusterClient.fromKubeconfig(harness.get("bare")!.kubeconfig);
    try {
      await expect(readFleetStatus(client, new Date())).rejects.toThrow(
        /does not serve kustomize\.toolkit\.fluxcd\.io\/v1 Kustomizations.*deploy\/crds/,
      );
    } finally {
      client.close();
    }
    await expect(run(["--kubeconfig", bareKubeconfig])).rejects.toThrow(/Flotilla's CRDs/);
  });
});
