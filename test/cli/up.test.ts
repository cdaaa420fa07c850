import { cpSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { run } from "../../src/cli/up.js";
import { capture } from "../support/capture-output.js";
import { TestRepo } from "../support/git-repo.js";

const ROOT = join(import.meta.dirname, "..", "..");

describe("flotilla up, the main job, on the example fleet", () => {
  const repo = TestRepo.create();
  afterAll(() => repo.remove());

  it("provisions both workload clusters and brings all 15 units to Ready, prod from the release tag", async () => {
    for (const dir of ["features", "providers", "tenants"])
      cpSync(join(ROOT, dir), join(repo.work, dir), { recursive: true });
    const sha = repo.commit("feat: example fleet (#1)", {});
    repo.git("tag", "v0.1.0");
    const { code, out, err } = await capture(() =>
      run(["--repo", repo.work, "--once", "--timeout", "4m", "--kubeconfig-out", join(repo.root, "kubeconfig")]),
    );
    expect(code, err).toBe(0);
    expect(err).toMatch(/all 15 units ready after/);
    expect(out).toMatch(
      new RegExp(
        `non-prod-local-1\\s+tenants-non-prod\\s+non-prod-local-1\\s+True\\s+Applied revision: main@sha1:${sha}`,
      ),
    );
    expect(out).toMatch(
      new RegExp(`prod-local-1\\s+common\\s+prod-local-1\\s+True\\s+Applied revision: v0.1.0@sha1:${sha}`),
    );
    const kubeconfig = readFileSync(join(repo.root, "kubeconfig"), "utf8");
    for (const context of ["mgmt", "non-prod-local-1", "prod-local-1"])
      expect(kubeconfig).toContain(`name: ${context}\n`);
  }, 300_000);
});

describe("flotilla up when the management cluster's unit cannot create the Clusters", () => {
  const repo = TestRepo.create();
  afterAll(() => repo.remove());

  it("refuses a --timeout that is not a duration before starting anything", async () => {
    repo.commit("feat: empty (#1)", {});
    await expect(run(["--repo", repo.work, "--once", "--timeout", "6x"])).rejects.toThrow(/'6x' is not a duration/);
  });

  it("with --no-create-namespaces, says which unit blocks provisioning and exits 1 within --timeout, as Flux would leave the Cluster uncreated", async () => {
    // The settings' namespace exists nowhere: the mgmt unit fails its dry run, so no Cluster is ever created.
    repo.commit("feat: one cluster (#2)", {
      "providers/local/v1/mgmt/namespaced/edge-1/cluster.yaml": [
        "apiVersion: cluster.x-k8s.io/v1beta1\nkind: Cluster\nmetadata: {name: edge-1, namespace: edge-1}",
        "spec:\n  infrastructureRef: {apiVersion: infrastructure.cluster.x-k8s.io/v1beta1, kind: LocalCluster, name: edge-1}\n---",
        "apiVersion: infrastructure.cluster.x-k8s.io/v1beta1\nkind: LocalCluster\nmetadata: {name: edge-1, namespace: edge-1}\nspec: {workers: 1}\n",
      ].join("\n"),
      "providers/local/v1/mgmt/namespaced/capi-config/settings.yaml":
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: capi-config}\ndata: {region: local}\n",
      "providers/local/v1/clusters/dev/edge-1/namespaced/info.yaml":
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: info\n  namespace: default\n",
    });
    const started = Date.now();
    const { code, err } = await capture(() =>
      run([
        "--repo",
        repo.work,
        "--once",
        "--timeout",
        "40s",
        "--no-create-namespaces",
        "--kubeconfig-out",
        join(repo.root, "kubeconfig"),
      ]),
    );
    expect(code, err).toBe(1);
    expect(Date.now() - started).toBeLessThan(70_000);
    expect(err).toMatch(/provisioning 1 workload cluster\(s\)…[\s\S]*? gave up \(/);
    expect(err).toMatch(
      /only 0 of 1 workload cluster\(s\) provisioned so far; the management cluster's units that are not ready:\n {2}flux-system\/mgmt: ConfigMap\/capi-config\/settings: namespaces "capi-config" not found/,
    );
    expect(err).toContain("not every unit became ready within 40s");
  }, 120_000);

  it("by default creates the namespace nothing in git creates, as the operator of a real management cluster would, and the fleet comes up", async () => {
    const { code, err } = await capture(() =>
      run(["--repo", repo.work, "--once", "--timeout", "90s", "--kubeconfig-out", join(repo.root, "kubeconfig")]),
    );
    expect(code, err).toBe(0);
    expect(err).toContain("--no-create-namespaces fails those units as Flux does");
    expect(err).toMatch(/all 2 units ready after/);
  }, 150_000);
});
