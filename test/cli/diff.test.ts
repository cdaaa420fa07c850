import { cpSync, readFileSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { run } from "../../src/cli/diff.js";
import { diffRevisions } from "../../src/diff/index.js";
import { openRepositoryInput } from "../../src/source/index.js";
import { TestRepo } from "../support/git-repo.js";

const REFERENCE = join(import.meta.dirname, "..", "plan", "fixtures", "reference");
const config = (tag: string) =>
  `sources:\n  release:\n    tag: ${tag}\nmanagement:\n  features:\n  - name: access-control\n    source: release\n`;

describe("flotilla diff between revisions of a platform repository", () => {
  let repo: TestRepo;
  const sha: Record<string, string> = {};
  beforeAll(() => {
    repo = TestRepo.create();
    cpSync(REFERENCE, repo.work, { recursive: true });
    for (const f of [
      "flux-system/gitrepositories.yaml",
      "flux-system/kustomizations.yaml",
      "non-prod-eu-west-1/kustomizations.yaml",
      "prod-eu-west-1/kustomizations.yaml",
    ]) {
      unlinkSync(join(repo.work, "providers/aws/v1/mgmt/namespaced", f));
    }
    sha.base = repo.commit("feat: platform (#1)", { "flotilla.yaml": config("v0.0.1") });
    repo.git("tag", "v0.0.1");
    const ingress = readFileSync(join(repo.work, "features/ingress-nginx/namespaced/controller.yaml"), "utf8").replace(
      "replicas: 1",
      "replicas: 2",
    );
    sha.feature = repo.commit("feat(ingress-nginx): two replicas (#2)", {
      "features/ingress-nginx/namespaced/controller.yaml": ingress,
      "flotilla.yaml": config("v0.0.2"),
    });
    repo.git("tag", "v0.0.2");
    sha.tenant = repo.commit("tenants(dummy): more cpu in non-prod (#3)", {
      "tenants/aws/non-prod/dummy/quota.yaml": readFileSync(
        join(repo.work, "tenants/aws/non-prod/dummy/quota.yaml"),
        "utf8",
      ).replace('"2"', '"3"'),
    });
    sha.cluster = repo.commit("providers(aws): label the cluster (#4)", {
      "providers/aws/v1/clusters/non-prod/non-prod-eu-west-1/namespaced/non-prod-eu-west-1/extra.yaml":
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n  namespace: kube-system\n",
    });
    sha.newCluster = repo.commit("providers(aws): add non-prod-eu-west-2 (#5)", {
      "providers/aws/v1/clusters/non-prod/non-prod-eu-west-2/namespaced/info.yaml":
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cluster-info\n  namespace: kube-system\n",
      "providers/aws/v1/mgmt/namespaced/non-prod-eu-west-2/cluster.yaml":
        "apiVersion: cluster.x-k8s.io/v1beta1\nkind: Cluster\nmetadata:\n  name: non-prod-eu-west-2\n  namespace: non-prod-eu-west-2\n",
    });
    sha.secret = repo.commit("fix(aws): rotate (#6)", {
      "providers/aws/v1/clusters/non-prod/non-prod-eu-west-1/namespaced/non-prod-eu-west-1/secret.yaml":
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: api\n  namespace: kube-system\ndata:\n  token: b2xkLXRva2Vu\n",
    });
    sha.rotated = repo.commit("fix(aws): rotate again (#7)", {
      "providers/aws/v1/clusters/non-prod/non-prod-eu-west-1/namespaced/non-prod-eu-west-1/secret.yaml":
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: api\n  namespace: kube-system\ndata:\n  token: bmV3LXRva2Vu\n",
    });
    sha.removed = repo.commit("tenants(dummy): drop non-prod settings (#8)", {
      "tenants/aws/non-prod/dummy/quota.yaml": null,
    });
  });
  afterAll(() => repo.remove());

  const diff = async (base: string, head: string) => diffRevisions(await openRepositoryInput(repo.work), base, head);
  const summary = (d: Awaited<ReturnType<typeof diff>>) =>
    d.clusters.map((c) => [
      c.cluster,
      c.units.map((u) => `${u.unit}:${u.change}:${u.objects.map((o) => `${o.change} ${o.ref}`).join(",")}`),
    ]);

  it("a feature change reaches every cluster of both environments when the release moves with it", async () => {
    expect(summary(await diff(sha.base!, sha.feature!))).toEqual([
      [
        "non-prod-eu-west-1",
        ["non-prod-eu-west-1/feature-ingress-nginx:changed:changed Deployment/ingress-nginx/ingress-nginx-controller"],
      ],
      [
        "prod-eu-west-1",
        ["prod-eu-west-1/feature-ingress-nginx:changed:changed Deployment/ingress-nginx/ingress-nginx-controller"],
      ],
    ]);
  });

  it("a tenant change in one environment reaches only that environment", async () => {
    expect(summary(await diff(sha.feature!, sha.tenant!))).toEqual([
      ["non-prod-eu-west-1", ["non-prod-eu-west-1/tenants-non-prod:changed:changed ResourceQuota/dummy/dummy-quota"]],
    ]);
  });

  it("a cluster-only change reaches only that cluster's unit", async () => {
    expect(summary(await diff(sha.tenant!, sha.cluster!))).toEqual([
      ["non-prod-eu-west-1", ["non-prod-eu-west-1/non-prod-eu-west-1:changed:added ConfigMap/kube-system/extra"]],
    ]);
  });

  it("a new cluster shows all its units as added, and its Cluster object on the management cluster", async () => {
    const d = await diff(sha.cluster!, sha.newCluster!);
    expect(d.clusters.map((c) => c.cluster)).toEqual(["mgmt", "non-prod-eu-west-2"]);
    expect(summary(d)[0]).toEqual([
      "mgmt",
      ["flux-system/mgmt:changed:added Cluster/non-prod-eu-west-2/non-prod-eu-west-2"],
    ]);
    expect(d.clusters[1]!.units.every((u) => u.change === "added")).toBe(true);
    expect(d.clusters[1]!.units.map((u) => u.unit)).toContain("non-prod-eu-west-2/feature-ingress-nginx");
  });

  it("a Secret change says only that the value changed", async () => {
    const d = await diff(sha.secret!, sha.rotated!);
    const text = JSON.stringify(d);
    expect(text).not.toContain("b2xkLXRva2Vu");
    expect(text).not.toContain("bmV3LXRva2Vu");
    expect(d.clusters[0]!.units[0]!.objects[0]!.fields![0]!.path).toBe("data.token");
  });

  it("a removed unit is reported as removed", async () => {
    const d = await diff(sha.rotated!, sha.removed!);
    expect(d.clusters.flatMap((c) => c.units.map((u) => `${u.unit}:${u.change}`))).toEqual([
      "non-prod-eu-west-1/tenants-non-prod:removed",
      "non-prod-eu-west-2/tenants-non-prod:removed",
    ]);
  });

  it("exits 1 with differences and 0 without, as flux diff; md is a PR comment", async () => {
    let out = "";
    const spy = vi
      .spyOn(process.stdout, "write")
      .mockImplementation((c: string | Uint8Array) => ((out += String(c)), true));
    try {
      expect(await run(["--repo", repo.work, "--base", sha.tenant!, "--head", sha.cluster!, "--format", "md"])).toBe(1);
      expect(out).toContain("| non-prod-eu-west-1 (non-prod) | `non-prod-eu-west-1` | 1/0/0 |");
      expect(out).toContain("<details><summary>non-prod-eu-west-1</summary>");
      expect(await run(["--repo", repo.work, "--base", sha.cluster!, "--head", sha.cluster!])).toBe(0);
    } finally {
      spy.mockRestore();
    }
  });
});

describe("flotilla diff when the release GitRepository follows main's branch at the base", () => {
  // Flux-compatible layout: `release` tracks branch main at first, then a commit pins it to a tag.
  const sources = (releaseRef: string) =>
    [
      "apiVersion: source.toolkit.fluxcd.io/v1",
      "kind: GitRepository",
      "metadata: { name: main, namespace: flux-system }",
      "spec: { url: https://git.example/platform, interval: 1m, ref: { branch: main } }",
      "---",
      "apiVersion: source.toolkit.fluxcd.io/v1",
      "kind: GitRepository",
      "metadata: { name: release, namespace: flux-system }",
      `spec: { url: https://git.example/platform, interval: 1m, ref: { ${releaseRef} } }`,
      "",
    ].join("\n");
  const unit = (cluster: string, source: string) =>
    [
      "apiVersion: kustomize.toolkit.fluxcd.io/v1",
      "kind: Kustomization",
      `metadata: { name: apps, namespace: ${cluster} }`,
      `spec: { interval: 5m, path: ./apps, prune: true, sourceRef: { kind: GitRepository, name: ${source}, namespace: flux-system }, kubeConfig: { secretRef: { name: ${cluster}-kubeconfig } } }`,
      "",
    ].join("\n");
  const app = (size: string) =>
    `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: default\ndata:\n  size: "${size}"\n`;
  const mgmt = "providers/cloud/v1/mgmt/namespaced";

  let repo: TestRepo;
  beforeAll(() => {
    repo = TestRepo.create();
    repo.commit("feat: platform", {
      [`${mgmt}/flux-system/sources.yaml`]: sources("branch: main"),
      [`${mgmt}/dev/units.yaml`]: unit("dev", "main"),
      [`${mgmt}/live/units.yaml`]: unit("live", "release"),
      "apps/app.yaml": app("small"),
    });
    repo.git("tag", "v0.1.0");
    repo.commit("fix(apps): bigger", { "apps/app.yaml": app("large") });
    repo.git("tag", "v0.2.0");
    repo.commit("chore(release): live follows v0.2.0", {
      [`${mgmt}/flux-system/sources.yaml`]: sources("tag: v0.2.0"),
    });
  });
  afterAll(() => repo.remove());

  it("renders that source at the base revision, not at today's tip of the branch, so the promoted cluster shows its change", async () => {
    const d = await diffRevisions(await openRepositoryInput(repo.work), "v0.1.0", "main");
    expect(
      d.clusters.map((c) => [
        c.cluster,
        c.units.map((u) => `${u.unit}:${u.objects.map((o) => `${o.change} ${o.ref}`).join(",")}`),
      ]),
    ).toEqual([
      ["dev", ["dev/apps:changed ConfigMap/default/app"]],
      ["live", ["live/apps:changed ConfigMap/default/app"]],
    ]);
  });
});
