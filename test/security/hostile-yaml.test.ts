import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../src/core/errors.js";
import { MemoryTree } from "../../src/core/file-tree.js";
import { parseYamlDocuments } from "../../src/core/yaml.js";
import { render } from "../../src/render/index.js";
import { billionLaughs } from "./hostile-inputs.js";

function manifestBomb(): string {
  return `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\ndata:\n${billionLaughs("a")
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n")}\n`;
}

function thrown(run: () => unknown): InvalidInputError {
  try {
    run();
  } catch (error) {
    return error as InvalidInputError;
  }
  throw new Error("expected an error");
}

describe("YAML alias bombs (go-yaml v3's excessive-aliasing rule)", () => {
  it("refuses a billion-laughs manifest with 'excessive aliasing' naming the file, before expanding it", () => {
    const start = process.hrtime.bigint();
    const error = thrown(() => parseYamlDocuments(manifestBomb(), "apps/bomb.yaml", { manifest: true }));
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.describe()).toMatch(/^apps\/bomb\.yaml:\d+: malformed YAML: document contains excessive aliasing/);
    // Loose: expanding it takes minutes and gigabytes; the refusal takes a few thousand steps.
    expect(ms).toBeLessThan(2000);
  });

  it("refuses the same bomb in kustomization.yaml through render, naming the kustomization file", () => {
    const tree = new MemoryTree("repo@main", [
      ["apps/kustomization.yaml", `resources: []\n${billionLaughs("x-bomb")}\n`],
    ]);
    const error = thrown(() => render(tree, "apps"));
    expect(error.describe()).toMatch(
      /^apps\/kustomization\.yaml:\d+: malformed YAML: document contains excessive aliasing/,
    );
  });

  it("refuses a bomb in a plain folder's manifest through render, naming the file", () => {
    const tree = new MemoryTree("repo@main", [
      ["apps/ok.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n"],
      ["apps/bomb.yaml", manifestBomb()],
    ]);
    expect(thrown(() => render(tree, "apps")).describe()).toMatch(
      /apps\/bomb\.yaml:\d+: malformed YAML: document contains excessive aliasing/,
    );
  });

  it("keeps ordinary aliasing: a map aliased 2,000 times reads as 2,000 independent copies", () => {
    const text = `base: &x {k: v, l: [1, 2, 3]}\n${Array.from({ length: 2000 }, (_, i) => `b${i}: *x`).join("\n")}\n`;
    const value = parseYamlDocuments(text, "ok.yaml")[0]!.value as Record<string, { l: number[] }>;
    expect(Object.keys(value)).toHaveLength(2001);
    value.b0!.l.push(4);
    expect(value.b1!.l).toEqual([1, 2, 3]);
  });

  it("allows up to 99% aliased operations in a small document, and refuses just past it", () => {
    // A list of 200 numbers anchored, then aliased n times. Unaliased operations: the document, the
    // root map, key x, the list and its 200 items, key l, list l = 206, plus one per alias node;
    // aliased: 201 per alias. 201n <= 0.99 * (206 + 202n) holds up to n = 199.
    const anchored = `x: &x [${Array.from({ length: 200 }, (_, i) => i).join(", ")}]`;
    const doc = (n: number) => `${anchored}\nl: [${Array(n).fill("*x").join(", ")}]\n`;
    expect(() => parseYamlDocuments(doc(199), "ok.yaml")).not.toThrow();
    expect(() => parseYamlDocuments(doc(201), "bomb.yaml")).toThrow(/excessive aliasing/);
  });

  it("draws the line where kubectl (go-yaml) does: a ConfigMap aliasing 200 items 209 times passes, 210 times not", () => {
    // Checked against kubectl v1.32: `kubectl create --dry-run=client -f` parses n = 209 and
    // refuses n = 210 with "yaml: document contains excessive aliasing".
    const configMap = (n: number) =>
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  x: &x [${Array.from({ length: 200 }, (_, i) => i).join(", ")}]\n  l: [${Array(n).fill("*x").join(", ")}]\n`;
    expect(() => parseYamlDocuments(configMap(209), "cm.yaml", { manifest: true })).not.toThrow();
    expect(() => parseYamlDocuments(configMap(210), "cm.yaml", { manifest: true })).toThrow(/excessive aliasing/);
  });
});
