import { describe, expect, it } from "vitest";
import { describeError } from "../../src/core/errors.js";
import { MemoryTree } from "../../src/core/file-tree.js";
import { readLayout } from "../../src/plan/layout.js";
import { assertFleetLayout } from "../../src/plan/missing-layout.js";

describe("a repository with nothing to plan is refused in one line, never an empty fleet", () => {
  const refusal = (files: Record<string, string>) => {
    const tree = new MemoryTree("repo", Object.entries(files));
    try {
      assertFleetLayout(tree, readLayout(tree));
    } catch (error) {
      return describeError(error);
    }
    throw new Error("accepted");
  };
  const KUSTOMIZATION = (path: string) =>
    `apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: apps, namespace: flux-system}\nspec:\n  interval: 10m\n  path: ${path}\n  sourceRef: {kind: GitRepository, name: flux-system}\n`;

  it("a plain Flux repository (clusters/<name>/ bootstrapped per cluster, HelmReleases): says what is missing and where its Flux objects are", () => {
    expect(
      refusal({
        "clusters/production/apps.yaml": KUSTOMIZATION("./apps/production"),
        "clusters/production/flux-system/gotk-sync.yaml": KUSTOMIZATION("./clusters/production"),
        "clusters/staging/apps.yaml": KUSTOMIZATION("./apps/staging"),
        "apps/base/podinfo/release.yaml":
          "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: podinfo, namespace: podinfo}\n",
        "apps/production/kustomization.yaml": "resources:\n- ../base/podinfo\n",
      }),
    ).toBe(
      "providers/: no fleet to plan: there is no providers/<cloud>/<version>/{mgmt,clusters/<env>/<cluster>} folder; Flux Kustomizations under clusters/production, clusters/staging look like a repository bootstrapped per cluster: Flotilla runs Flux objects placed under providers/<cloud>/<version>/mgmt, each workload cluster's with kubeConfig.secretRef <cluster>-kubeconfig",
    );
  });

  it("a providers/ folder with neither mgmt nor a cluster folder", () => {
    expect(
      refusal({
        "providers/aws/v1/clusters/dev/common/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n",
        "features/x/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n",
      }),
    ).toBe(
      "providers/: no fleet to plan: providers/ has no <cloud>/<version>/mgmt folder and no <cloud>/<version>/clusters/<env>/<cluster> folder",
    );
  });
});

describe("a repository with a fleet passes", () => {
  it("a mgmt folder alone, or a cluster folder alone", () => {
    for (const path of ["providers/aws/v1/mgmt/ns.yaml", "providers/aws/v1/clusters/dev/dev-1/ns.yaml"]) {
      const tree = new MemoryTree("repo", [[path, "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n"]]);
      expect(() => assertFleetLayout(tree, readLayout(tree))).not.toThrow();
    }
  });
});
