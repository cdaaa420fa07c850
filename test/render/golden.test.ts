import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { describeError, FlotillaError } from "../../src/core/errors.js";
import { DiskTree } from "../../src/core/file-tree.js";
import { render } from "../../src/render/index.js";
import {
  type CoverageScope,
  firstDifference,
  fixtureText,
  hasKubectl,
  kubectlRenderFixture,
  loadFixture,
  parseStream,
} from "./golden-support.js";

/**
 * Golden tests: each folder under fixtures/ holds an input tree (`in/`) and the output of
 * `kubectl kustomize` for it (`expected.yaml`), or the texts its error must contain
 * (`expected-error.txt`, one per line). `render-path.txt` names the folder to render when it is
 * not `in/`; `vars.json` holds Flux substitution variables (those goldens are hand-made);
 * `kubectl-flags.txt` holds flags for kubectl where Flux builds differently. See fixtures/README.md.
 * `UPDATE_GOLDENS=1 npx vitest run --config test/vitest.config.ts test/render/golden.test.ts [-t NAME]`
 * rewrites the kubectl-made expected.yaml files from kubectl.
 */
const FIXTURES = join(import.meta.dirname, "fixtures");
const fixtures = readdirSync(FIXTURES, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => loadFixture(FIXTURES, e.name))
  .sort((a, b) => a.name.localeCompare(b.name));

/**
 * The issue asks for every kustomization feature to be covered by at least two fixtures: each
 * entry is a feature, where to look, and a pattern that shows a fixture uses it.
 */
const COVERAGE: [feature: string, scope: CoverageScope, pattern: RegExp][] = [
  ["resources", "kustomization", /^resources:/m],
  ["resources: nested kustomization folder", "kustomization", /^resources:\n(- .*\n)*- \.\.\/[\w.-]+\n/m],
  ["bases (legacy)", "kustomization", /^bases:/m],
  ["components", "kustomization", /^components:/m],
  ["namespace", "kustomization", /^namespace:/m],
  ["namePrefix", "kustomization", /^namePrefix:/m],
  ["nameSuffix", "kustomization", /^nameSuffix:/m],
  ["commonLabels", "kustomization", /^commonLabels:/m],
  ["labels", "kustomization", /^labels:/m],
  ["labels includeSelectors", "kustomization", /includeSelectors: true/],
  ["labels includeTemplates", "kustomization", /includeTemplates: true/],
  ["commonAnnotations", "kustomization", /^commonAnnotations:/m],
  ["patches", "kustomization", /^patches:/m],
  ["patches: strategic merge $patch: delete", "any", /\$patch: delete/],
  ["patches: strategic merge $patch: replace", "any", /\$patch: replace/],
  ["patches: JSON 6902", "any", /op"?: "?(add|remove|replace|move|copy|test)\b/],
  ["patches target labelSelector", "kustomization", /labelSelector:/],
  ["patches target annotationSelector", "kustomization", /annotationSelector:/],
  ["patches target regex name", "kustomization", /target:(\n +\w+: .*)*\n +name: [^\n]*[*+|(]/],
  ["patchesStrategicMerge", "kustomization", /^patchesStrategicMerge:/m],
  ["patchesJson6902 (any spelling)", "kustomization", /^patches[Jj][Ss][Oo][Nn]6902:/m],
  ["images", "kustomization", /^images:/m],
  ["images newName", "kustomization", /^ +newName:/m],
  ["images digest", "kustomization", /^ +digest:/m],
  ["replicas", "kustomization", /^replicas:/m],
  ["configMapGenerator", "kustomization", /^configMapGenerator:/m],
  ["secretGenerator", "kustomization", /^secretGenerator:/m],
  ["generator files", "kustomization", /^ +files:/m],
  ["generator envs", "kustomization", /^ +envs:/m],
  ["generator behavior merge", "kustomization", /behavior: merge/],
  ["generator behavior replace", "kustomization", /behavior: replace/],
  ["generatorOptions", "kustomization", /^generatorOptions:/m],
  ["replacements", "kustomization", /^replacements:/m],
  ["replacements options delimiter/index", "any", /delimiter:/],
  ["replacements options create", "any", /options:(\n +\w+: .*)*\n +create: true/],
  ["vars", "kustomization", /^vars:/m],
  ["configurations", "kustomization", /^configurations:/m],
  ["configurations nameReference", "any", /^nameReference:/m],
  ["configurations varReference", "any", /^varReference:/m],
  ["configurations commonLabels", "any", /^commonLabels:\n- kind:/m],
  ["configurations images", "any", /^images:\n- kind:/m],
  ["transformers (built-in configs)", "kustomization", /^transformers:/m],
  ["generators (built-in configs)", "kustomization", /^generators:/m],
  ["openapi", "kustomization", /^openapi:/m],
  ["crds", "kustomization", /^crds:/m],
  ["sortOptions legacy", "kustomization", /^sortOptions:\n +order: legacy/m],
  ["sortOptions fifo", "kustomization", /^sortOptions:\n +order: fifo/m],
  ["buildMetadata", "kustomization", /^buildMetadata:/m],
];

describe("render matches kubectl kustomize (golden files)", () => {
  it("has at least 80 fixtures", () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(80);
  });

  it.each(COVERAGE)("covers %s in at least two fixtures", (_feature, scope, pattern) => {
    const users = fixtures
      .filter((fx) => !fx.expectedError && pattern.test(fixtureText(fx, scope)))
      .map((fx) => fx.name);
    expect(users.length, users.join(", ")).toBeGreaterThanOrEqual(2);
  });

  it("covers Flux plain folders, substitution and every bad-input kind in at least two fixtures", () => {
    const count = (test: (fx: (typeof fixtures)[number]) => boolean) => fixtures.filter(test).length;
    expect(count((fx) => fx.plain && !fx.expectedError)).toBeGreaterThanOrEqual(2);
    expect(count((fx) => fx.vars !== undefined && !fx.expectedError)).toBeGreaterThanOrEqual(2);
    for (const kind of [
      "malformed YAML",
      "does not exist",
      "already registered id",
      "no resource matches",
      "cycle",
      "leaves the repository root",
      "remote",
    ]) {
      expect(
        count((fx) => fx.expectedError?.some((e) => e.includes(kind)) ?? false),
        kind,
      ).toBeGreaterThanOrEqual(2);
    }
  });

  for (const fx of fixtures) {
    it(fx.name, () => {
      const tree = new DiskTree(join(fx.dir, "in"));
      const options = fx.vars ? { substitute: fx.vars } : {};
      if (fx.expectedError) {
        let thrown: unknown;
        try {
          render(tree, fx.path, options);
        } catch (error) {
          thrown = error;
        }
        expect(thrown, "render should fail").toBeDefined();
        expect(thrown, `a FlotillaError, not: ${describeError(thrown)}`).toBeInstanceOf(FlotillaError);
        for (const part of fx.expectedError) expect((thrown as FlotillaError).describe()).toContain(part);
        return;
      }
      const actual = render(tree, fx.path, options);
      const expected = parseStream(readFileSync(join(fx.dir, "expected.yaml"), "utf8"), "expected.yaml");
      const difference = firstDifference(actual, expected);
      expect(difference, `${fx.name}: first difference`).toBeUndefined();
      expect(actual).toEqual(expected);
    });
  }
});

describe.skipIf(!hasKubectl())("golden files are current with kubectl kustomize", () => {
  for (const fx of fixtures) {
    // Substitution is Flux's, not kustomize's: those goldens are hand-made.
    if (fx.vars) continue;
    if (fx.expectedError) {
      it(`${fx.name}: kubectl fails too`, () => {
        expect(() => kubectlRenderFixture(fx)).toThrow(/kubectl kustomize .* failed/);
      });
      continue;
    }
    it(fx.name, () => {
      const output = kubectlRenderFixture(fx);
      if (process.env.UPDATE_GOLDENS) writeFileSync(join(fx.dir, "expected.yaml"), output);
      const expected = readFileSync(join(fx.dir, "expected.yaml"), "utf8");
      const difference = firstDifference(parseStream(output, "kubectl output"), parseStream(expected, "expected.yaml"));
      expect(difference, `${fx.name}: expected.yaml differs from kubectl's output at`).toBeUndefined();
    });
  }
});
