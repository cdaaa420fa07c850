import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { killAllCliProcesses, startCli } from "../support/cli-process.js";
import { TestRepo } from "../support/git-repo.js";

/** A one-cluster fleet in convention mode. */
const files: Record<string, string> = {
  "providers/local/v1/mgmt/namespaced/dev-1/cluster.yaml": `apiVersion: cluster.x-k8s.io/v1beta1
kind: Cluster
metadata: {name: dev-1, namespace: dev-1}
spec:
  infrastructureRef: {apiVersion: infrastructure.cluster.x-k8s.io/v1beta1, kind: LocalCluster, name: dev-1}
`,
  "providers/local/v1/clusters/dev/dev-1/info.yaml":
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cluster-info, namespace: default}\ndata: {cluster: dev-1}\n",
  "tenants/local/common/team/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n",
};

/** The pids of every process below `root`, from `ps`. */
function descendants(root: number): number[] {
  const rows = execFileSync("ps", ["-e", "-o", "pid=,ppid="], { encoding: "utf8" })
    .trim()
    .split("\n")
    .map((l) => l.trim().split(/\s+/).map(Number) as [number, number]);
  const found: number[] = [];
  const walk = (pid: number) => {
    for (const [child, parent] of rows) {
      if (parent !== pid) continue;
      found.push(child);
      walk(child);
    }
  };
  walk(root);
  return found;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("flotilla up ends cleanly on a signal", () => {
  const repo = TestRepo.create();
  afterAll(async () => {
    await killAllCliProcesses();
    repo.remove();
  });

  it("stops the controller, the provider and every control plane on SIGTERM, leaving no process behind", async () => {
    repo.commit("feat: one cluster (#1)", files);
    const up = startCli(["up", "--repo", repo.work, "--kubeconfig-out", join(repo.root, "kubeconfig")], {
      env: { FLOTILLA_LOG_LEVEL: "silent" },
    });
    const deadline = Date.now() + 180_000;
    while (!/dev-1\s+tenants-common\s+dev-1\s+True/.test(up.stdout()) && Date.now() < deadline) {
      if (!alive(up.pid)) throw new Error(`flotilla up exited early:\n${up.tail()}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(up.stdout(), up.tail()).toMatch(/dev-1\s+tenants-common\s+dev-1\s+True/);
    const children = descendants(up.pid);
    const commands = execFileSync("ps", ["-o", "comm=", "-p", children.join(",")], { encoding: "utf8" });
    // etcd and two control planes (management and dev-1), each with controller-manager and scheduler.
    expect(commands.match(/kube-apiserver/g)).toHaveLength(2);
    expect(commands).toMatch(/etcd/);

    process.kill(up.pid, "SIGTERM");
    const { code } = await up.exited;
    expect(code, up.tail()).toBe(0);
    expect(up.stderr()).toContain("stopping: reconcile loop, provider, control planes");
    expect(children.filter(alive), "processes left behind").toEqual([]);
  }, 240_000);
});
