import { describe, expect, it } from "vitest";
import { MemoryTree } from "../../src/core/file-tree.js";
import { discoverSources, planFleet } from "../../src/plan/index.js";
import { renderFlux } from "../../src/render/index.js";

const cm = (name: string, value: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${name}, namespace: kube-public}\ndata: {cluster: ${value}}\n`;

describe("an object two units apply to one cluster is a plan warning", () => {
  it("names the object, both units with their paths, and the clusters; an object in one unit per cluster is not one", () => {
    const tree = new MemoryTree("fleet", [
      [
        "providers/aws/v1/mgmt/clusters.yaml",
        "apiVersion: cluster.x-k8s.io/v1beta1\nkind: Cluster\nmetadata: {name: a, namespace: a}\n",
      ],
      ["providers/aws/v1/clusters/dev/common/info.yaml", cm("cluster-info", "dev")],
      ["providers/aws/v1/clusters/dev/a/info.yaml", `${cm("cluster-info", "a")}---\n${cm("only-a", "a")}`],
    ]);
    const sources = discoverSources(tree, { repoUrl: "https://git.example.com/fleet.git", render: renderFlux });
    expect(planFleet(sources, { main: tree }, { render: renderFlux }).warnings).toEqual([
      "ConfigMap/kube-public/cluster-info is applied by 2 units of the same cluster, common (./providers/aws/v1/clusters/dev/common) and a (./providers/aws/v1/clusters/dev/a), on cluster a: the last to apply wins at every reconcile, and pruning by one deletes it for the other",
    ]);
  });
});
