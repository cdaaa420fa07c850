import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { main } from "../../src/cli/dispatch.js";
import { run } from "../../src/cli/plan.js";
import { capture } from "../support/capture-output.js";
import { TestRepo } from "../support/git-repo.js";

// Small repositories unlike the reference one, built with the git CLI.
const cluster = (name: string) =>
  `apiVersion: cluster.x-k8s.io/v1beta1\nkind: Cluster\nmetadata: {name: ${name}, namespace: ${name}}\n`;
const info = (name: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cluster-info, namespace: kube-public}\ndata: {cluster: ${name}}\n`;
const FLEET: Record<string, string> = {
  "providers/aws/v1/mgmt/clusters.yaml": [cluster("dev-a"), cluster("dev-b"), cluster("dev-c")].join("---\n"),
  "providers/aws/v1/clusters/dev/dev-a/info.yaml": info("dev-a"),
  "providers/aws/v1/clusters/dev/dev-b/info.yaml": info("dev-b"),
  "providers/aws/v1/clusters/dev/dev-c/info.yaml": info("dev-c"),
  "tenants/aws/common/team/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n",
};

describe("flotilla plan on repositories it has not seen", () => {
  let repo: TestRepo | undefined;
  afterEach(() => repo?.remove());

  it("a repository whose default branch is master: the main source follows master", async () => {
    repo = TestRepo.create();
    repo.git("checkout", "-q", "-b", "master");
    repo.commit("platform", FLEET);
    repo.git("tag", "v1.0.0");
    const { code, out } = await capture(() => run(["--repo", repo!.work, "--json"]));
    expect(code).toBe(0);
    const sources = (
      JSON.parse(out) as Array<{ kind: string; metadata: { name: string }; spec: { ref?: unknown } }>
    ).filter((o) => o.kind === "GitRepository");
    expect(sources.map((g) => [g.metadata.name, g.spec.ref])).toEqual([
      ["main", { branch: "master" }],
      ["release", { tag: "v1.0.0" }],
    ]);
  });

  it("a repository without a release tag: the clusters following main are planned, prod's are left out with one error, exit 2", async () => {
    repo = TestRepo.create();
    repo.commit("platform", {
      ...FLEET,
      "providers/aws/v1/mgmt/prod.yaml": cluster("prod-a"),
      "providers/aws/v1/clusters/prod/prod-a/info.yaml": info("prod-a"),
    });
    const { code, out, err } = await capture(() => run(["--repo", repo!.work]));
    expect(code).toBe(2);
    expect(out).toContain("dev-a ");
    expect(out).not.toContain("prod-a");
    expect(err).toBe(
      "error: unit prod-a/* (./providers/aws/v1/clusters/prod/prod-a) not planned: providers/aws/v1/clusters/prod/prod-a: environments.prod.source: environment 'prod' follows the release source, but there is none: tag a release (vX.Y.Z) or set sources.release in flotilla.yaml\n",
    );
  });

  it("reads the work tree as Flux reads the commit: a .sourceignore'd test fixture and a git-ignored file are not rendered", async () => {
    repo = TestRepo.create();
    repo.commit("platform", {
      ...FLEET,
      ".sourceignore": "**/tests/\n",
      ".gitignore": "*.dec.yaml\n",
      "providers/aws/v1/clusters/dev/dev-a/tests/fixture.yaml": "this: is: not: yaml\n",
    });
    // Decrypted locally, never committed: it would collide with the committed cluster-info.
    writeFileSync(join(repo.work, "providers/aws/v1/clusters/dev/dev-b/info.dec.yaml"), info("dev-b"));
    const { code, err } = await capture(() => run(["--repo", repo!.work]));
    expect(err).toBe("");
    expect(code).toBe(0);
  });

  it("three broken cluster folders: every unit is printed, each error names its unit and file (line, field, object), exit 2", async () => {
    repo = TestRepo.create();
    repo.commit("platform", {
      ...FLEET,
      // dev-a: malformed YAML; dev-b: one object in two files; dev-c: a kustomization.yaml naming a missing file
      "providers/aws/v1/clusters/dev/dev-a/policy.yaml":
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: policy\n   namespace: default\n",
      "providers/aws/v1/clusters/dev/dev-b/again.yaml": info("dev-b"),
      "providers/aws/v1/clusters/dev/dev-c/kustomization.yaml": "resources:\n- info.yaml\n- quotas.yaml\n",
    });
    const { code, out, err } = await capture(() => run(["--repo", repo!.work]));
    expect(code).toBe(2);
    expect(
      out
        .trim()
        .split("\n")
        .slice(1)
        .map((l) => l.split(/\s+/).slice(0, 2).join("/")),
    ).toEqual([
      "dev-a/dev-a",
      "dev-a/tenants-common",
      "dev-b/dev-b",
      "dev-b/tenants-common",
      "dev-c/dev-c",
      "dev-c/tenants-common",
      "flux-system/mgmt",
    ]);
    expect(err.trim().split("\n")).toEqual([
      "error: unit dev-a/dev-a (./providers/aws/v1/clusters/dev/dev-a) does not render: providers/aws/v1/clusters/dev/dev-a/policy.yaml:5: malformed YAML: bad indentation of a mapping entry",
      expect.stringMatching(
        /^error: unit dev-b\/dev-b \(\.\/providers\/aws\/v1\/clusters\/dev\/dev-b\) does not render: providers\/aws\/v1\/clusters\/dev\/dev-b\/: resources: may not add resource with an already registered id: ConfigMap\/kube-public\/cluster-info \(from .*\)$/,
      ),
      "error: unit dev-c/dev-c (./providers/aws/v1/clusters/dev/dev-c) does not render: providers/aws/v1/clusters/dev/dev-c/kustomization.yaml: resources: resource 'quotas.yaml' does not exist",
    ]);
  });
});

describe("flotilla plan on a plain Flux repository", () => {
  let repo: TestRepo | undefined;
  afterEach(() => repo?.remove());

  it("exits 2 with one line naming what is missing, not an empty table", async () => {
    repo = TestRepo.create();
    repo.commit("flux bootstrap", {
      "clusters/staging/apps.yaml":
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: apps, namespace: flux-system}\nspec:\n  interval: 10m\n  path: ./apps/staging\n  prune: true\n  sourceRef: {kind: GitRepository, name: flux-system}\n",
      "apps/staging/podinfo.yaml":
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: podinfo, namespace: podinfo}\n",
    });
    const { code, out, err } = await capture(() => main(["plan", "--repo", repo!.work]));
    expect(code).toBe(2);
    expect(out).toBe("");
    expect(err.trim().split("\n")).toHaveLength(1);
    expect(err).toMatch(
      /^flotilla plan: providers\/: no fleet to plan: .* Flux Kustomizations under clusters\/staging look like a repository bootstrapped per cluster/,
    );
  });
});
