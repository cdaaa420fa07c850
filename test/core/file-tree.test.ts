import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { RefusedError } from "../../src/core/errors.js";
import { DiskTree, MemoryTree, joinInTree } from "../../src/core/file-tree.js";

describe("joinInTree", () => {
  it("joins and normalizes relative paths", () => {
    expect(joinInTree("a/b", "../c/d.yaml")).toBe("a/c/d.yaml");
    expect(joinInTree("", "./x")).toBe("x");
    expect(joinInTree("a", "..")).toBe("");
  });

  it("refuses a path that leaves the root, naming the file and field", () => {
    expect(() => joinInTree("a", "../../etc/passwd", { file: "a/kustomization.yaml", field: "resources" })).toThrow(
      RefusedError,
    );
    try {
      joinInTree("a", "../../x", { file: "a/kustomization.yaml", field: "resources" });
    } catch (error) {
      expect((error as RefusedError).describe()).toBe(
        "a/kustomization.yaml: resources: path '../../x' leaves the repository root",
      );
    }
  });

  it("refuses absolute paths", () => {
    expect(() => joinInTree("", "/etc/passwd")).toThrow(/absolute path/);
  });
});

describe("MemoryTree", () => {
  const tree = new MemoryTree(
    "repo@main",
    [
      ["a/one.yaml", "x: 1\n"],
      ["a/b/two.yaml", "y: 2\n"],
    ],
    [
      ["link", "a/b"],
      ["escape", "../../outside"],
    ],
  );

  it("lists folders sorted and tells files from folders", () => {
    expect(tree.list("")).toEqual(["a", "escape", "link"]);
    expect(tree.list("a")).toEqual(["b", "one.yaml"]);
    expect(tree.kind("a")).toBe("dir");
    expect(tree.kind("a/one.yaml")).toBe("file");
    expect(tree.kind("nope")).toBeUndefined();
  });

  it("follows a symlink that stays inside the root", () => {
    expect(tree.readText("link/two.yaml")).toBe("y: 2\n");
  });

  it("refuses a symlink that leaves the root", () => {
    expect(() => tree.kind("escape")).toThrow(RefusedError);
  });
});

describe("DiskTree", () => {
  const dir = mkdtempSync(join(tmpdir(), "flotilla-tree-"));
  const outside = mkdtempSync(join(tmpdir(), "flotilla-outside-"));
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });
  mkdirSync(join(dir, "sub"));
  writeFileSync(join(dir, "sub", "f.yaml"), "a: 1\n");
  writeFileSync(join(outside, "secret.yaml"), "s: 1\n");
  symlinkSync(join(outside, "secret.yaml"), join(dir, "sub", "escape.yaml"));

  it("reads files below its root", () => {
    const tree = new DiskTree(dir);
    expect(tree.list("sub")).toEqual(["escape.yaml", "f.yaml"]);
    expect(tree.readText("sub/f.yaml")).toBe("a: 1\n");
  });

  it("refuses a symlink that points outside its root", () => {
    const tree = new DiskTree(dir);
    expect(() => tree.readText("sub/escape.yaml")).toThrow(/leaves the repository root/);
  });
});
