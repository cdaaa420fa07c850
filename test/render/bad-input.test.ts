import { describe, expect, it } from "vitest";
import { describeError } from "../../src/core/errors.js";
import { MemoryTree } from "../../src/core/file-tree.js";
import { render } from "../../src/render/index.js";

const CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n";
const fail = (files: Record<string, string>, path = "", symlinks: Record<string, string> = {}): string => {
  try {
    render(new MemoryTree("repo", Object.entries(files), Object.entries(symlinks)), path);
  } catch (error) {
    return describeError(error);
  }
  throw new Error("render succeeded");
};

describe("render refuses bad input with the file, line and field", () => {
  it("malformed YAML names the file and line", () => {
    expect(
      fail({ "kustomization.yaml": "resources:\n- a.yaml\n", "a.yaml": "kind: ConfigMap\nmetadata:\n  name: [\n" }),
    ).toMatch(/^a\.yaml:\d+: malformed YAML/);
  });

  it("a malformed kustomization names the kustomization file", () => {
    expect(fail({ "kustomization.yaml": "resources: [a.yaml\n" })).toMatch(/^kustomization\.yaml:\d+: malformed YAML/);
  });

  it("a missing resource names the kustomization and the resources field", () => {
    expect(fail({ "app/kustomization.yaml": "resources:\n- gone.yaml\n" }, "app")).toBe(
      "app/kustomization.yaml: resources: resource 'gone.yaml' does not exist",
    );
  });

  it("a duplicate object names both files", () => {
    expect(fail({ "kustomization.yaml": "resources:\n- a.yaml\n- b.yaml\n", "a.yaml": CM, "b.yaml": CM })).toContain(
      "already registered id: ConfigMap/c (from b.yaml and a.yaml)",
    );
  });

  it("a patch whose target matches nothing names the patch", () => {
    const msg = fail({
      "kustomization.yaml": "resources:\n- a.yaml\npatches:\n- path: p.yaml\n",
      "a.yaml": CM,
      "p.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\n",
    });
    expect(msg).toBe("p.yaml: patches[0]: no resource matches the patch for ConfigMap/other");
  });

  it("a cycle of kustomizations prints the cycle", () => {
    expect(
      fail(
        {
          "a/kustomization.yaml": "resources:\n- ../b\n",
          "b/kustomization.yaml": "resources:\n- ../c\n",
          "c/kustomization.yaml": "resources:\n- ../a\n",
        },
        "a",
      ),
    ).toContain("kustomization cycle: a -> b -> c -> a");
  });

  it("a path that leaves the repository root is refused", () => {
    expect(fail({ "app/kustomization.yaml": "resources:\n- ../../outside.yaml\n" }, "app")).toBe(
      "app/kustomization.yaml: resources: path '../../outside.yaml' leaves the repository root",
    );
  });

  it("a symlink that leaves the repository root is refused", () => {
    expect(
      fail({ "kustomization.yaml": "resources:\n- link.yaml\n" }, "", { "link.yaml": "../../etc/passwd" }),
    ).toContain("symlink that leaves the repository root");
  });

  it("a remote URL is refused: no network at render time", () => {
    expect(fail({ "kustomization.yaml": "resources:\n- github.com/org/repo//deploy?ref=v1\n" })).toContain(
      "remote resource 'github.com/org/repo//deploy?ref=v1' is refused",
    );
  });

  it("an unknown kustomization field is named", () => {
    expect(fail({ "kustomization.yaml": "resourcez:\n- a.yaml\n" })).toBe(
      "kustomization.yaml: resourcez: unknown field 'resourcez'",
    );
  });

  it("a wrong type is named", () => {
    expect(fail({ "kustomization.yaml": "namePrefix: [a]\n" })).toBe(
      "kustomization.yaml: namePrefix: must be a string",
    );
  });

  it("a helm chart is refused with the reason", () => {
    expect(fail({ "kustomization.yaml": "helmCharts:\n- name: x\n" })).toContain(
      "helm charts need the helm executable",
    );
  });

  it("a manifest without kind names the file, line and field", () => {
    expect(
      fail({ "kustomization.yaml": "resources:\n- a.yaml\n", "a.yaml": "---\napiVersion: v1\nmetadata:\n  name: x\n" }),
    ).toBe("a.yaml:2: kind: missing kind");
  });

  it("never returns part of a render: a later failure fails the whole render", () => {
    expect(fail({ "kustomization.yaml": "resources:\n- a.yaml\n- missing.yaml\n", "a.yaml": CM })).toContain(
      "missing.yaml",
    );
  });
});
