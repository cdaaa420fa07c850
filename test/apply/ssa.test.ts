import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterClient } from "../../src/core/kube/index.js";
import { resourceOrFail } from "../../src/apply/ssa.js";
import { describeError } from "../../src/core/errors.js";
import type { KubeObject } from "../../src/core/object.js";
import { startHarness, type Harness } from "../../src/provision/local/harness.js";

describe("a kind the cluster does not serve is named with what it serves instead, on a real kube-apiserver", () => {
  let harness: Harness;
  let client: ClusterClient;
  beforeAll(async () => {
    harness = await startHarness({ profile: "apiserver", clusters: ["served"] });
    client = ClusterClient.fromKubeconfig(harness.clusters[0]!.kubeconfig);
  });
  afterAll(async () => {
    client?.close();
    await harness?.stop();
  });
  const failure = async (obj: KubeObject) => describeError(await resourceOrFail(client, obj).catch((e: unknown) => e));

  it("a built-in kind in a version this Kubernetes does not have (policy/v1 on 1.20): the versions it serves and its Kubernetes version, not 'is its CRD installed?'", async () => {
    // v1beta3 exists in no Kubernetes, so the test holds whichever binaries run it.
    const pdb: KubeObject = {
      apiVersion: "policy/v1beta3",
      kind: "PodDisruptionBudget",
      metadata: { name: "web", namespace: "default" },
      spec: {},
    };
    expect(await failure(pdb)).toMatch(
      /^PodDisruptionBudget\/default\/web: apiVersion: the cluster \(Kubernetes v\d+\.\d+\.\d+\S*\) does not serve policy\/v1beta3 PodDisruptionBudget, only policy\/v1\S*: the manifest needs another Kubernetes version$/,
    );
  });

  it("a Flux kind Flotilla has no controller for (HelmRelease): says so, not just 'is its CRD installed?'", async () => {
    const release: KubeObject = {
      apiVersion: "helm.toolkit.fluxcd.io/v2",
      kind: "HelmRelease",
      metadata: { name: "podinfo", namespace: "podinfo" },
    };
    expect(await failure(release)).toBe(
      "HelmRelease/podinfo/podinfo: apiVersion: the cluster does not serve helm.toolkit.fluxcd.io/v2 HelmRelease: Flotilla reconciles only GitRepository and Kustomization objects on the management cluster; a HelmRelease needs Flux's controllers (and CRDs) installed on this cluster",
    );
  });

  it("a kind no version of which is served: its CRD is missing", async () => {
    const widget: KubeObject = {
      apiVersion: "example.com/v1",
      kind: "Widget",
      metadata: { name: "w", namespace: "default" },
    };
    expect(await failure(widget)).toBe(
      "Widget/default/w: apiVersion: the cluster does not serve example.com/v1 Widget (is its CRD installed?)",
    );
  });
});
