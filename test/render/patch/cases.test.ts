import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../../src/core/errors.js";
import { applyCase, byId, caseNames, loadCase } from "./cases.js";

// Each case's expected output is what `kubectl kustomize` (kustomize v5.5) printed for it;
// oracle.test.ts re-runs kubectl to keep these honest. toStrictEqual compares list order too.
describe("patch cases match kubectl kustomize", () => {
  for (const name of caseNames()) {
    const c = loadCase(name);
    if (c.expectedError !== undefined) {
      it(`${name}: fails as kustomize does`, () => {
        expect(() => applyCase(c)).toThrow(InvalidInputError);
      });
    } else {
      it(`${name}: gives kustomize's output`, () => {
        expect(byId(applyCase(c))).toStrictEqual(byId(c.expected!));
      });
    }
  }
});

describe("inputs are left unchanged", () => {
  it("patching every case twice gives the same result and leaves base and patch as read", () => {
    for (const name of caseNames()) {
      const c = loadCase(name);
      if (c.expectedError !== undefined) continue;
      const resources = structuredClone(c.resources);
      const patches = structuredClone(c.patches);
      const first = applyCase(c);
      expect(c.resources, name).toStrictEqual(resources);
      expect(c.patches, name).toStrictEqual(patches);
      expect(applyCase(c), name).toStrictEqual(first);
    }
  });
});
