import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { describeError, FlotillaError } from "../../src/core/errors.js";
import { DiskTree } from "../../src/core/file-tree.js";
import { render } from "../../src/render/index.js";
import { firstDifference, hasKubectl, kubectlRenderFixture, loadFixture, parseStream } from "./golden-support.js";

/**
 * Extra golden cases for kustomize semantics the main fixtures did not pin down (found by
 * comparing with kubectl kustomize v5.5): same layout and rules as fixtures/ (see its README).
 */
const FIXTURES = join(import.meta.dirname, "fixtures-extra");
const fixtures = readdirSync(FIXTURES, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => loadFixture(FIXTURES, e.name))
  .sort((a, b) => a.name.localeCompare(b.name));

describe("render matches kubectl kustomize (extra golden files)", () => {
  for (const fx of fixtures) {
    it(fx.name, () => {
      const tree = new DiskTree(join(fx.dir, "in"));
      if (fx.expectedError) {
        let thrown: unknown;
        try {
          render(tree, fx.path);
        } catch (error) {
          thrown = error;
        }
        expect(thrown, `a FlotillaError, not: ${describeError(thrown)}`).toBeInstanceOf(FlotillaError);
        for (const part of fx.expectedError) expect((thrown as FlotillaError).describe()).toContain(part);
        return;
      }
      const expected = parseStream(readFileSync(join(fx.dir, "expected.yaml"), "utf8"), "expected.yaml");
      const actual = render(tree, fx.path);
      expect(firstDifference(actual, expected), `${fx.name}: first difference`).toBeUndefined();
      expect(actual).toEqual(expected);
    });
  }
});

describe.skipIf(!hasKubectl())("extra golden files are current with kubectl kustomize", () => {
  for (const fx of fixtures) {
    it(fx.name, () => {
      if (fx.expectedError) {
        expect(() => kubectlRenderFixture(fx)).toThrow(/kubectl kustomize .* failed/);
        return;
      }
      const output = kubectlRenderFixture(fx);
      const expected = readFileSync(join(fx.dir, "expected.yaml"), "utf8");
      expect(
        firstDifference(parseStream(output, "kubectl output"), parseStream(expected, "expected.yaml")),
      ).toBeUndefined();
    });
  }
});
