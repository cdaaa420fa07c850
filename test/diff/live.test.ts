import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyUnit, ClusterClient } from "../../src/apply/index.js";
import { run } from "../../src/cli/diff.js";
import { diffLive, renderUnits, type FleetDiff } from "../../src/diff/index.js";
import { planRepository } from "../../src/plan/index.js";
import { openRepositoryInput } from "../../src/source/index.js";
import type { Kustomization } from "../../src/core/flux.js";
import type { KubeObject } from "../../src/core/object.js";
import { startHarness, type Harness } from "../../src/provision/local/harness.js";
import { TestRepo } from "../support/git-repo.js";
import { kube } from "../support/kubectl-free-client.js";
import { capture } from "../support/capture-output.js";

const REFERENCE = join(import.meta.dirname, "..", "plan", "fixtures", "reference");
const CLUSTER = "non-prod-eu-west-1";
const clusterDir = `providers/aws/v1/clusters/non-prod/${CLUSTER}/namespaced/${CLUSTER}`;

describe("flotilla diff --live: the head render against a live cluster, through server-side dry runs", () => {
  let repo: TestRepo;
  let harness: Harness;
  let kubeconfigFile: string;
  let tmp: string;
  const file = (path: string) => join(repo.work, path);

  beforeAll(async () => {
    repo = TestRepo.create();
    cpSync(REFERENCE, repo.work, { recursive: true });
    for (const f of [
      "flux-system/gitrepositories.yaml",
      "flux-system/kustomizations.yaml",
      `${CLUSTER}/kustomizations.yaml`,
      "prod-eu-west-1/kustomizations.yaml",
    ])
      unlinkSync(file(`providers/aws/v1/mgmt/namespaced/${f}`));
    writeFileSync(
      file(`${clusterDir}/secret.yaml`),
      "apiVersion: v1\nkind: Secret\nmetadata:\n  name: api\n  namespace: kube-system\nstringData:\n  token: first-token-value\n",
    );
    repo.commit("feat: platform (#1)", { "flotilla.yaml": "sources:\n  release:\n    tag: v0.0.1\n" });
    repo.git("tag", "v0.0.1");
    harness = await startHarness({ profile: "apiserver", clusters: [CLUSTER] });
    tmp = mkdtempSync(join(tmpdir(), "flotilla-diff-live-"));
    kubeconfigFile = join(tmp, "kubeconfig");
    writeFileSync(kubeconfigFile, harness.clusters[0]!.kubeconfig);

    // What the controller would have done: apply each unit of the cluster, CRDs' units first.
    const plan = await planRepository(await openRepositoryInput(repo.work), undefined, false);
    const units = renderUnits(plan.result.objects, plan.trees, new Map(), (c) => c === CLUSTER);
    const hasCrd = (objects: readonly KubeObject[]) => objects.some((o) => o.kind === "CustomResourceDefinition");
    units.sort(
      (a, b) =>
        Number(hasCrd(b.objects)) - Number(hasCrd(a.objects)) ||
        Number(b.objects.some((o) => o.kind === "Namespace")) - Number(a.objects.some((o) => o.kind === "Namespace")),
    );
    const client = ClusterClient.fromKubeconfig(harness.clusters[0]!.kubeconfig);
    try {
      for (const u of units) {
        const k = plan.result.objects.find(
          (o): o is Kustomization =>
            o.kind === "Kustomization" && `${o.metadata.namespace}/${o.metadata.name}` === u.unit,
        )!;
        await applyUnit(client, {
          unit: { name: k.metadata.name!, namespace: k.metadata.namespace! },
          objects: u.objects,
          prune: true,
          wait: false,
          timeoutMs: 30_000,
        });
      }
    } finally {
      client.close();
    }
  }, 120_000);
  afterAll(async () => {
    await harness?.stop();
    repo?.remove();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("finds no difference right after the cluster was reconciled (exit 0)", async () => {
    const result = await capture(() => run(["--live", "--kubeconfig", kubeconfigFile, "--repo", repo.work]));
    expect(result).toMatchObject({ code: 0, out: "no changes\n" });
  });

  it("shows changed fields, new and pruned objects, masked Secrets and removed units — and writes nothing (exit 1)", async () => {
    const k = kube(harness.clusters[0]!);
    const before = (await k.get("/apis/apps/v1/namespaces/ingress-nginx/deployments/ingress-nginx-controller")).body
      .metadata.resourceVersion;
    writeFileSync(
      file("features/ingress-nginx/namespaced/controller.yaml"),
      readFileSync(file("features/ingress-nginx/namespaced/controller.yaml"), "utf8").replace(
        "replicas: 1",
        "replicas: 2",
      ),
    );
    writeFileSync(
      file(`${clusterDir}/extra.yaml`),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n  namespace: kube-system\ndata:\n  a: "1"\n',
    );
    writeFileSync(
      file(`${clusterDir}/secret.yaml`),
      "apiVersion: v1\nkind: Secret\nmetadata:\n  name: api\n  namespace: kube-system\nstringData:\n  token: second-token-value\n",
    );
    writeFileSync(
      file("tenants/aws/non-prod/dummy/quota.yaml"),
      readFileSync(file("tenants/aws/non-prod/dummy/quota.yaml"), "utf8").split("---")[0]!,
    );
    unlinkSync(file(`${clusterDir}/cluster-info.yaml`));

    const json = await capture(() =>
      run(["--live", "--kubeconfig", kubeconfigFile, "--repo", repo.work, "--format", "json"]),
    );
    expect(json.code).toBe(1);
    const diff = JSON.parse(json.out) as FleetDiff;
    expect(diff.clusters.map((c) => [c.cluster, c.environment])).toEqual([[CLUSTER, "non-prod"]]);
    const units = diff.clusters[0]!.units;
    expect(units.map((u) => [u.unit, u.change, u.objects.map((o) => `${o.change} ${o.ref}`)])).toEqual([
      [`${CLUSTER}/feature-ingress-nginx`, "changed", ["changed Deployment/ingress-nginx/ingress-nginx-controller"]],
      [
        `${CLUSTER}/${CLUSTER}`,
        "changed",
        [
          "removed ConfigMap/kube-system/cluster-info",
          "added ConfigMap/kube-system/extra",
          "changed Secret/kube-system/api",
        ],
      ],
      [`${CLUSTER}/tenants-non-prod`, "changed", ["removed LimitRange/dummy/dummy-limits"]],
    ]);
    expect(units[0]!.objects[0]!.fields).toEqual([{ path: "spec.replicas", change: "changed", from: 1, to: 2 }]);
    expect(units[1]!.objects.find((o) => o.ref === "Secret/kube-system/api")!.fields!.map((f) => f.path)).toEqual([
      "data.token",
    ]);
    expect(json.out).not.toContain("token-value");
    expect(json.out).not.toContain(Buffer.from("first-token-value").toString("base64"));
    expect(diff.summary).toEqual({ clusters: 1, units: 3, added: 1, changed: 2, removed: 2 });

    const text = await capture(() =>
      run(["--live", "--kubeconfig", kubeconfigFile, "--repo", repo.work, "--cluster", CLUSTER]),
    );
    expect(text.code).toBe(1);
    expect(text.out).toContain(`cluster ${CLUSTER} (non-prod)\n  unit ${CLUSTER}/feature-ingress-nginx\n`);
    expect(text.out).toContain(
      `  unit ${CLUSTER}/${CLUSTER}\n    - ConfigMap/kube-system/cluster-info\n    + ConfigMap/kube-system/extra\n    ~ Secret/kube-system/api\n      ~ data.token: secret value changed\n`,
    );
    expect(text.out).toContain(
      "    ~ Deployment/ingress-nginx/ingress-nginx-controller\n      ~ spec.replicas\n          - 1\n          + 2\n",
    );
    const md = await capture(() =>
      run(["--live", "--kubeconfig", kubeconfigFile, "--repo", repo.work, "--format", "md"]),
    );
    expect(md.out).toContain(
      `| ${CLUSTER} (non-prod) | \`feature-ingress-nginx\`, \`${CLUSTER}\`, \`tenants-non-prod\` | 1/2/2 |`,
    );

    expect(
      (await k.get("/apis/apps/v1/namespaces/ingress-nginx/deployments/ingress-nginx-controller")).body.metadata
        .resourceVersion,
    ).toBe(before);
    expect((await k.get("/api/v1/namespaces/kube-system/configmaps/extra")).status).toBe(404);
    expect((await k.get("/api/v1/namespaces/kube-system/configmaps/cluster-info")).status).toBe(200);
  });

  it("reports a unit that left the plan as removed, with the objects it owns", async () => {
    rmSync(file("tenants/aws/non-prod"), { recursive: true });
    const { diff } = await diffLive(await openRepositoryInput(repo.work), { kubeconfigFile, cluster: CLUSTER });
    const unit = diff.clusters[0]!.units.find((u) => u.unit === `${CLUSTER}/tenants-non-prod`)!;
    expect(unit).toEqual({
      unit: `${CLUSTER}/tenants-non-prod`,
      change: "removed",
      objects: [
        { id: "dummy_dummy-limits__LimitRange", ref: "LimitRange/dummy/dummy-limits", change: "removed" },
        { id: "dummy_dummy-quota__ResourceQuota", ref: "ResourceQuota/dummy/dummy-quota", change: "removed" },
      ],
    });
  });

  it("compares a committed revision with --head", async () => {
    const { diff } = await diffLive(await openRepositoryInput(repo.work), { kubeconfigFile, head: "v0.0.1" });
    expect(diff.clusters).toEqual([]);
  });

  it("refuses bad input with errors that name the option or file (exit 2 from the CLI)", async () => {
    await expect(run(["--live", "--repo", repo.work])).rejects.toThrow(/--live needs --kubeconfig FILE/);
    await expect(run(["--live", "--kubeconfig", join(tmp, "missing"), "--repo", repo.work])).rejects.toThrow(
      /cannot read the kubeconfig/,
    );
    await expect(
      run(["--live", "--kubeconfig", kubeconfigFile, "--repo", repo.work, "--cluster", "nowhere"]),
    ).rejects.toThrow(
      /no unit of the plan runs on cluster 'nowhere' \(clusters: mgmt, non-prod-eu-west-1, prod-eu-west-1\)/,
    );
    await expect(
      run(["--live", "--kubeconfig", kubeconfigFile, "--repo", repo.work, "--base", "v0.0.1"]),
    ).rejects.toThrow(/--base is not used/);
  });
});
