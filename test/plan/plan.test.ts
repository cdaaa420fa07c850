import { describe, expect, it } from "vitest";
import { describeError } from "../../src/core/errors.js";
import type { Kustomization } from "../../src/core/flux.js";
import { discoverSources, planFleet } from "../../src/plan/index.js";
import { countingRender, REFERENCE, treeFrom } from "./support.js";

const DESIGN_UNITS = [
  ["flux-system", "feature-access-control", "release"],
  ["flux-system", "mgmt", "main"],
  ...[
    "common",
    "feature-access-control",
    "feature-helloworld-operator",
    "feature-ingress-nginx",
    "non-prod-eu-west-1",
    "tenants-common",
    "tenants-non-prod",
  ].map((n) => ["non-prod-eu-west-1", n, "main"]),
  ...[
    "common",
    "feature-access-control",
    "feature-helloworld-operator",
    "feature-ingress-nginx",
    "prod-eu-west-1",
    "tenants-common",
    "tenants-prod",
  ].map((n) => ["prod-eu-west-1", n, "release"]),
];

const isFluxObjectFile = (p: string) =>
  p.startsWith("providers/aws/v1/mgmt/namespaced/") && /(gitrepositories|kustomizations)\.yaml$/.test(p);
const CONVENTION_CONFIG = `sources:
  url: ssh://git@github.com/berndonline/k8s-gitops-at-scale
  release:
    tag: v0.0.3
management:
  features:
  - name: access-control
    source: release
`;

function units(objects: Array<{ kind: string }>): Kustomization[] {
  return objects.filter((o): o is Kustomization => o.kind === "Kustomization");
}

function planOf(tree: ReturnType<typeof treeFrom>, opts: { repoUrl?: string; releaseTag?: string } = {}) {
  const { render } = countingRender();
  const sources = discoverSources(tree, { ...opts, render });
  return planFleet(sources, { main: tree, release: tree }, { render });
}

describe("plan of the reference repository", () => {
  it("yields exactly DESIGN.md's 16 units in Flux-compatible mode", () => {
    const result = planOf(treeFrom(REFERENCE));
    expect(result.mode).toBe("flux");
    expect(units(result.objects).map((k) => [k.metadata.namespace, k.metadata.name, k.spec.sourceRef.name])).toEqual(
      DESIGN_UNITS,
    );
    expect(result.objects.filter((o) => o.kind === "GitRepository").map((o) => o.metadata.name)).toEqual([
      "main",
      "release",
    ]);
  });

  it("normalizes v1beta1 Flux objects to v1", () => {
    const result = planOf(treeFrom(REFERENCE));
    expect(new Set(result.objects.map((o) => o.apiVersion))).toEqual(
      new Set(["source.toolkit.fluxcd.io/v1", "kustomize.toolkit.fluxcd.io/v1"]),
    );
    const k = units(result.objects)[0]!;
    expect(k.spec).not.toHaveProperty("validation");
  });

  it("yields the same 16 units in convention mode, from the layout and flotilla.yaml", () => {
    const tree = treeFrom(REFERENCE, { drop: isFluxObjectFile, extra: { "flotilla.yaml": CONVENTION_CONFIG } });
    const result = planOf(tree);
    expect(result.mode).toBe("convention");
    expect(units(result.objects).map((k) => [k.metadata.namespace, k.metadata.name, k.spec.sourceRef.name])).toEqual(
      DESIGN_UNITS,
    );
    const np = units(result.objects).find(
      (k) => k.metadata.namespace === "non-prod-eu-west-1" && k.metadata.name === "common",
    )!;
    expect(np.spec).toMatchObject({
      path: "./providers/aws/v1/clusters/non-prod/common",
      kubeConfig: { secretRef: { name: "non-prod-eu-west-1-kubeconfig" } },
      prune: true,
    });
    expect(result.warnings).toEqual([]);
  });

  it("infers that units using the operator's custom resource depend on feature-helloworld-operator", () => {
    for (const tree of [
      treeFrom(REFERENCE),
      treeFrom(REFERENCE, { drop: isFluxObjectFile, extra: { "flotilla.yaml": CONVENTION_CONFIG } }),
    ]) {
      const byName = new Map(units(planOf(tree).objects).map((k) => [`${k.metadata.namespace}/${k.metadata.name}`, k]));
      for (const cluster of ["non-prod-eu-west-1", "prod-eu-west-1"]) {
        expect(byName.get(`${cluster}/common`)!.spec.dependsOn).toContainEqual({ name: "feature-helloworld-operator" });
        expect(
          byName.get(`${cluster}/tenants-${cluster.startsWith("prod") ? "prod" : "non-prod"}`)!.spec.dependsOn,
        ).toEqual([{ name: "tenants-common" }]);
        expect(byName.get(`${cluster}/feature-helloworld-operator`)!.spec.dependsOn).toBeUndefined();
      }
    }
  });

  it("renders each distinct (source, path) once for inference", () => {
    const tree = treeFrom(REFERENCE, { drop: isFluxObjectFile, extra: { "flotilla.yaml": CONVENTION_CONFIG } });
    const counter = countingRender();
    const sources = discoverSources(tree, { render: counter.render });
    const before = counter.calls();
    planFleet(sources, { main: tree, release: tree }, { render: counter.render });
    // 1 mgmt cross-check + distinct (source, path): mgmt, access-control×2 sources, 2 other features×2, common×2, cluster×2, tenants-common×2, tenants-env×2
    expect(counter.calls() - before).toBe(1 + 1 + 2 + 4 + 2 + 2 + 2 + 2);
  });

  it("is deterministic", () => {
    const tree = treeFrom(REFERENCE);
    expect(JSON.stringify(planOf(tree))).toBe(JSON.stringify(planOf(tree)));
  });
});

describe("plan refuses bad input, naming the file and field", () => {
  const fail = (tree: ReturnType<typeof treeFrom>, opts: { repoUrl?: string; releaseTag?: string } = {}): string => {
    try {
      planOf(tree, opts);
    } catch (error) {
      return describeError(error);
    }
    throw new Error("plan succeeded");
  };
  const conventionTree = (extra: Record<string, string>, drop?: (p: string) => boolean) =>
    treeFrom(REFERENCE, {
      drop: (p) => isFluxObjectFile(p) || (drop?.(p) ?? false),
      extra: { "flotilla.yaml": CONVENTION_CONFIG, ...extra },
    });

  it("a cluster folder under an environment that has no source: that cluster is left out with the error, the others are planned", () => {
    const tree = treeFrom(REFERENCE, {
      drop: isFluxObjectFile,
      extra: { "flotilla.yaml": "sources:\n  url: https://example.com/repo.git\n" },
    });
    const result = planOf(tree);
    expect(result.errors).toEqual([
      {
        unit: "prod-eu-west-1/*",
        path: "./providers/aws/v1/clusters/prod/prod-eu-west-1",
        message: expect.stringMatching(
          /^not planned: providers\/aws\/v1\/clusters\/prod\/prod-eu-west-1: environments\.prod\.source: environment 'prod' follows the release source, but there is none/,
        ),
      },
    ]);
    expect(new Set(units(result.objects).map((k) => k.metadata.namespace))).toEqual(
      new Set(["flux-system", "non-prod-eu-west-1"]),
    );
  });

  it("a feature that flotilla.yaml names but that does not exist", () => {
    expect(
      fail(
        conventionTree({
          "flotilla.yaml": `${CONVENTION_CONFIG}clusters:\n  prod-eu-west-1:\n    features:\n      include: [monitoring]\n`,
        }),
      ),
    ).toBe(
      "flotilla.yaml: clusters.prod-eu-west-1.features.include[0]: feature 'monitoring' does not exist under features/",
    );
  });

  it("two clusters with the same name", () => {
    expect(
      fail(
        conventionTree({
          "providers/gcp/v1/clusters/prod/prod-eu-west-1/x.yaml":
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
        }),
      ),
    ).toContain("two clusters are named 'prod-eu-west-1'");
  });

  it("a Kustomization whose sourceRef names no GitRepository", () => {
    const tree = treeFrom(REFERENCE, {
      extra: {
        "providers/aws/v1/mgmt/namespaced/flux-system/extra.yaml":
          "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: stray\n  namespace: flux-system\nspec:\n  interval: 5m\n  path: ./features\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: nowhere\n",
      },
    });
    expect(fail(tree)).toBe(
      "Kustomization/flux-system/stray: spec.sourceRef: sourceRef GitRepository/flux-system/nowhere names no GitRepository in the repository",
    );
  });

  it("a path that does not exist in the source", () => {
    const tree = treeFrom(REFERENCE, { drop: (p) => p.startsWith("features/ingress-nginx/") });
    expect(fail(tree)).toBe(
      "Kustomization/non-prod-eu-west-1/feature-ingress-nginx: spec.path: path './features/ingress-nginx' does not exist in source 'main'",
    );
  });

  it("unknown keys and wrong types in flotilla.yaml", () => {
    expect(fail(conventionTree({ "flotilla.yaml": "sources:\n  url: x\n  mian: {branch: main}\n" }))).toBe(
      "flotilla.yaml: sources.mian: unknown key 'mian' (known: url, main, release)",
    );
    expect(fail(conventionTree({ "flotilla.yaml": "defaults:\n  prune: yes please\n" }))).toBe(
      "flotilla.yaml: defaults.prune: must be true or false",
    );
  });

  it("a dependency cycle prints the cycle", () => {
    const tree = treeFrom(REFERENCE, {
      extra: {
        "providers/aws/v1/mgmt/namespaced/flux-system/cycle.yaml":
          "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: a\n  namespace: flux-system\nspec:\n  interval: 5m\n  path: ./features/access-control\n  prune: true\n  sourceRef: {kind: GitRepository, name: main}\n  dependsOn: [{name: b}]\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: b\n  namespace: flux-system\nspec:\n  interval: 5m\n  path: ./features/access-control\n  prune: true\n  sourceRef: {kind: GitRepository, name: main}\n  dependsOn: [{name: a}]\n",
      },
    });
    expect(fail(tree)).toContain("dependency cycle: flux-system/a -> flux-system/b -> flux-system/a");
  });
});
