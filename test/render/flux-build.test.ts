import { describe, expect, it } from "vitest";
import { MemoryTree } from "../../src/core/file-tree.js";
import type { KustomizationSpec } from "../../src/core/flux.js";
import { fluxBuildSpecOf, renderFlux } from "../../src/render/index.js";

const tree = new MemoryTree("repo", [
  ["app/kustomization.yaml", "resources:\n- deploy.yaml\nnamespace: original\n"],
  [
    "app/deploy.yaml",
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: web\n        image: nginx:1\n        env:\n        - name: CLUSTER\n          value: ${cluster}\n",
  ],
  ["plain/a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"],
  ["plain/sub/b.yml", "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: b\n"],
  [
    "components/extra/kustomization.yaml",
    'apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ncommonAnnotations:\n  extra: "yes"\n',
  ],
]);

describe("renderFlux folds a Kustomization's spec into the build as kustomize-controller does", () => {
  it("applies targetNamespace, prefix, suffix, images, patches, components and commonMetadata", () => {
    const [d] = renderFlux(tree, "./app", {
      targetNamespace: "team",
      namePrefix: "p-",
      nameSuffix: "-s",
      images: [{ name: "nginx", newTag: "2" }],
      patches: [{ patch: "- op: add\n  path: /spec/replicas\n  value: 2\n", target: { kind: "Deployment" } }],
      components: ["../components/extra"],
      commonMetadata: { labels: { owner: "platform" }, annotations: { note: "x" } },
      substitute: { cluster: "prod-1" },
    });
    expect(d!.metadata).toEqual({
      name: "p-web-s",
      namespace: "team",
      labels: { owner: "platform" },
      annotations: { extra: "yes", note: "x" },
    });
    const spec = d!.spec as {
      replicas: number;
      selector: unknown;
      template: { spec: { containers: Array<{ image: string; env: unknown }> } };
    };
    expect(spec.replicas).toBe(2);
    expect(spec.selector).toEqual({ matchLabels: { app: "web" } });
    expect(spec.template.spec.containers[0]!.image).toBe("nginx:2");
    expect(spec.template.spec.containers[0]!.env).toEqual([{ name: "CLUSTER", value: "prod-1" }]);
  });

  it("applies a v1beta1/v1beta2 spec's patchesStrategicMerge and patchesJson6902 (after patches)", () => {
    const spec = {
      sourceRef: { kind: "GitRepository", name: "main" },
      interval: "5m",
      prune: true,
      patches: [{ patch: "- op: add\n  path: /spec/replicas\n  value: 2\n", target: { kind: "Deployment" } }],
      patchesStrategicMerge: [
        { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web" }, spec: { replicas: 3 } },
      ],
      patchesJson6902: [
        {
          target: { group: "apps", version: "v1", kind: "Deployment", name: "web" },
          patch: [{ op: "add", path: "/metadata/labels", value: { tier: "front" } }],
        },
      ],
    } as KustomizationSpec;
    const [d] = renderFlux(tree, "./app", fluxBuildSpecOf(spec));
    expect((d!.spec as { replicas: number }).replicas).toBe(3);
    expect(d!.metadata.labels).toEqual({ tier: "front" });
  });

  it("renders a folder without a kustomization as Flux does: every YAML file below it", () => {
    expect(renderFlux(tree, "plain", {}).map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      "ServiceAccount/b",
      "ConfigMap/a",
    ]);
  });
});
