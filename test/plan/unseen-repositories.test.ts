import { describe, expect, it } from "vitest";
import { MemoryTree } from "../../src/core/file-tree.js";
import type { GitRepository, Kustomization } from "../../src/core/flux.js";
import { discoverSources, planFleet } from "../../src/plan/index.js";
import { renderFlux } from "../../src/render/index.js";

// A small convention-mode fleet: two dev clusters, a feature with a CRD, a common folder using it.
const FLEET: Record<string, string> = {
  "providers/aws/v1/mgmt/clusters.yaml": ["a", "b"]
    .map((c) => `apiVersion: cluster.x-k8s.io/v1beta1\nkind: Cluster\nmetadata: {name: ${c}, namespace: ${c}}\n`)
    .join("---\n"),
  "providers/aws/v1/clusters/dev/common/widget.yaml":
    "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: default}\n",
  "providers/aws/v1/clusters/dev/a/info.yaml":
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: info, namespace: default}\ndata: {cluster: a}\n",
  "providers/aws/v1/clusters/dev/b/info.yaml":
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: info, namespace: default}\ndata: {cluster: b}\n",
  "features/widgets/crd.yaml":
    "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\nspec:\n  group: example.com\n  scope: Namespaced\n  names: {kind: Widget, plural: widgets}\n  versions: [{name: v1, served: true, storage: true}]\n",
};

function plan(files: Record<string, string>, opts: { defaultBranch?: string } = {}) {
  const tree = new MemoryTree("fleet", Object.entries(files));
  const sources = discoverSources(tree, { repoUrl: "https://git.example.com/fleet.git", ...opts, render: renderFlux });
  return planFleet(sources, { main: tree }, { render: renderFlux });
}
const unit = (objects: Array<GitRepository | Kustomization>, ns: string, name: string) =>
  objects.find(
    (o): o is Kustomization => o.kind === "Kustomization" && o.metadata.namespace === ns && o.metadata.name === name,
  );

describe("a unit whose path does not render stays in the plan, its error named", () => {
  it("malformed YAML in one cluster's folder: every unit planned, the error names the unit, file and line, the other clusters' dependencies inferred", () => {
    const result = plan({
      ...FLEET,
      "providers/aws/v1/clusters/dev/a/policy.yaml":
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n   namespace: y\n",
    });
    expect(
      result.objects.filter((o) => o.kind === "Kustomization").map((o) => `${o.metadata.namespace}/${o.metadata.name}`),
    ).toEqual(["a/a", "a/common", "a/feature-widgets", "b/b", "b/common", "b/feature-widgets", "flux-system/mgmt"]);
    expect(result.errors).toEqual([
      {
        unit: "a/a",
        path: "./providers/aws/v1/clusters/dev/a",
        message: expect.stringMatching(
          /^does not render: providers\/aws\/v1\/clusters\/dev\/a\/policy\.yaml:5: malformed YAML/,
        ),
      },
    ]);
    expect(unit(result.objects, "b", "common")!.spec.dependsOn).toEqual([{ name: "feature-widgets" }]);
    expect(unit(result.objects, "a", "common")!.spec.dependsOn).toEqual([{ name: "feature-widgets" }]);
  });

  it("a kustomization.yaml naming a missing file and an object defined twice: one error each, with the file and field", () => {
    const result = plan({
      ...FLEET,
      "providers/aws/v1/clusters/dev/a/kustomization.yaml": "resources:\n- info.yaml\n- quotas.yaml\n",
      "providers/aws/v1/clusters/dev/b/again.yaml":
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: info, namespace: default}\ndata: {cluster: b2}\n",
    });
    expect(result.errors.map((e) => `${e.unit}: ${e.message}`)).toEqual([
      "a/a: does not render: providers/aws/v1/clusters/dev/a/kustomization.yaml: resources: resource 'quotas.yaml' does not exist",
      "b/b: does not render: providers/aws/v1/clusters/dev/b/: resources: may not add resource with an already registered id: ConfigMap/default/info (from providers/aws/v1/clusters/dev/b/info.yaml and providers/aws/v1/clusters/dev/b/again.yaml)",
    ]);
  });

  it("a mgmt folder that does not render fails the plan (it decides the mode), naming the file and field", () => {
    expect(() =>
      plan({ ...FLEET, "providers/aws/v1/mgmt/kustomization.yaml": "resources:\n- clusters.yaml\n- missing.yaml\n" }),
    ).toThrow("resource 'missing.yaml' does not exist");
  });
});

describe("the main source follows the repository's default branch", () => {
  const mainRef = (objects: Array<GitRepository | Kustomization>) =>
    objects.find((o): o is GitRepository => o.kind === "GitRepository" && o.metadata.name === "main")!.spec.ref;

  it("master when the repository has no main; flotilla.yaml's sources.main.branch wins", () => {
    expect(mainRef(plan(FLEET).objects)).toEqual({ branch: "main" });
    expect(mainRef(plan(FLEET, { defaultBranch: "master" }).objects)).toEqual({ branch: "master" });
    expect(
      mainRef(
        plan({ ...FLEET, "flotilla.yaml": "sources:\n  main: {branch: trunk}\n" }, { defaultBranch: "master" }).objects,
      ),
    ).toEqual({ branch: "trunk" });
  });
});

describe("Clusters that share a namespace (Cluster API quick-start style)", () => {
  it("their units live in the Cluster's namespace, where its kubeconfig Secret is, named <cluster>-<unit>", () => {
    const shared = {
      ...FLEET,
      "providers/aws/v1/mgmt/clusters.yaml": ["a", "b"]
        .map((c) => `apiVersion: cluster.x-k8s.io/v1beta1\nkind: Cluster\nmetadata: {name: ${c}, namespace: fleet}\n`)
        .join("---\n"),
    };
    const result = plan(shared);
    const units = result.objects.filter((o): o is Kustomization => o.kind === "Kustomization");
    expect(
      units.map((u) => `${u.metadata.namespace}/${u.metadata.name} ${u.spec.kubeConfig?.secretRef.name ?? "-"}`),
    ).toEqual([
      "fleet/a a-kubeconfig",
      "fleet/a-common a-kubeconfig",
      "fleet/a-feature-widgets a-kubeconfig",
      "fleet/b b-kubeconfig",
      "fleet/b-common b-kubeconfig",
      "fleet/b-feature-widgets b-kubeconfig",
      "flux-system/mgmt -",
    ]);
    expect(unit(result.objects, "fleet", "a-common")!.spec.dependsOn).toEqual([{ name: "a-feature-widgets" }]);
    expect(result.warnings).toEqual([]);
  });
});
