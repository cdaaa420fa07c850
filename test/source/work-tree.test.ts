import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { WorkTree } from "../../src/source/work-tree.js";

describe("a work tree as Flux sees it once committed", () => {
  const dir = mkdtempSync(join(tmpdir(), "flotilla-work-tree-"));
  const files: Record<string, string> = {
    ".sourceignore": "# fixtures and scripts never reach the cluster\n**/tests/\n/scripts/\n",
    ".gitignore": "*.dec.yaml\n",
    ".github/workflows/ci.yaml": "on: push\n",
    "scripts/validate.yaml": "not: [a manifest\n",
    "features/metrics/config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: metrics}\n",
    "features/metrics/tests/fixture.yaml": "this: is: not: yaml\n",
    "features/metrics/secret.dec.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: decrypted}\n",
    "tenants/team/.sourceignore": "drafts/\n",
    "tenants/team/drafts/quota.yaml": "draft\n",
    "tenants/team/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n",
  };
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  mkdirSync(join(dir, ".git"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const tree = new WorkTree(dir);

  it("leaves out what .sourceignore (root and nested), .gitignore and Flux's defaults exclude", () => {
    expect(tree.list("")).toEqual([".sourceignore", "features", "tenants"]);
    expect(tree.list("features/metrics")).toEqual(["config.yaml"]);
    expect(tree.list("tenants/team")).toEqual([".sourceignore", "ns.yaml"]);
    expect(tree.kind("features/metrics/tests")).toBeUndefined();
    expect(tree.kind("features/metrics/tests/fixture.yaml")).toBeUndefined();
    expect(tree.kind("scripts/validate.yaml")).toBeUndefined();
    expect(tree.kind(".github")).toBeUndefined();
  });

  it("reads what is left, and refuses what is excluded as missing", () => {
    expect(tree.readText("features/metrics/config.yaml")).toContain("name: metrics");
    expect(() => tree.read("features/metrics/secret.dec.yaml")).toThrow("does not exist");
    expect(() => tree.list("tenants/team/drafts")).toThrow("does not exist");
  });
});
