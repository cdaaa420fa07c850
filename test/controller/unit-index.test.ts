import { describe, expect, it } from "vitest";
import { UnitIndex } from "../../src/controller/unit-index.js";

describe("UnitIndex", () => {
  it("finds units by lane, namespace and dependency, and follows a unit that moves", () => {
    const index = new UnitIndex();
    index.set("c1/common", "c1/c1-kubeconfig", "c1", []);
    index.set("c1/cluster", "c1/c1-kubeconfig", "c1", ["c1/common"]);
    index.set("c2/cluster", "c2/c2-kubeconfig", "c2", ["c1/common"]);
    expect([...index.inLane("c1/c1-kubeconfig")]).toEqual(["c1/common", "c1/cluster"]);
    expect([...index.inNamespace("c2")]).toEqual(["c2/cluster"]);
    expect([...index.dependentsOf("c1/common")]).toEqual(["c1/cluster", "c2/cluster"]);
    // A changed spec: another cluster, no dependency.
    index.set("c2/cluster", "c2/other-kubeconfig", "c2", []);
    expect([...index.inLane("c2/c2-kubeconfig")]).toEqual([]);
    expect([...index.inLane("c2/other-kubeconfig")]).toEqual(["c2/cluster"]);
    expect([...index.dependentsOf("c1/common")]).toEqual(["c1/cluster"]);
    index.delete("c1/cluster");
    index.delete("c1/cluster");
    expect([...index.dependentsOf("c1/common")]).toEqual([]);
    expect([...index.inLane("c1/c1-kubeconfig")]).toEqual(["c1/common"]);
    expect([...index.inNamespace("nowhere")]).toEqual([]);
  });
});
