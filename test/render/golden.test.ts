import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { describeError } from "../../src/core/errors.js";
import { DiskTree } from "../../src/core/file-tree.js";
import { parseYamlDocuments } from "../../src/core/yaml.js";
import { render } from "../../src/render/index.js";

/**
 * Golden tests: each folder under fixtures/ holds an input tree (`in/`) and the output of
 * `kubectl kustomize` for it (`expected.yaml`), or the text an error must contain
 * (`expected-error.txt`). `render-path.txt` names the folder to render when it is not `in/`;
 * `vars.json` holds Flux substitution variables. UPDATE_GOLDENS=1 rewrites expected.yaml from kubectl.
 */
const FIXTURES = join(import.meta.dirname, "fixtures");
const fixtures = readdirSync(FIXTURES).sort();

interface Fixture {
  name: string;
  dir: string;
  path: string;
  vars?: Record<string, string>;
  expectedError?: string;
  plain: boolean;
}

function load(name: string): Fixture {
  const dir = join(FIXTURES, name);
  const read = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), "utf8").trim() : undefined);
  const vars = read("vars.json");
  const expectedError = read("expected-error.txt");
  return {
    name,
    dir,
    path: read("render-path.txt") ?? "",
    ...(vars !== undefined ? { vars: JSON.parse(vars) as Record<string, string> } : {}),
    ...(expectedError !== undefined ? { expectedError } : {}),
    plain: !["kustomization.yaml", "kustomization.yml", "Kustomization"].some((f) => existsSync(join(dir, "in", f))) && !existsSync(join(dir, "render-path.txt")),
  };
}

const kubectl = (() => {
  try {
    execFileSync("kubectl", ["version", "--client"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

function kubectlKustomize(target: string): string {
  return execFileSync("kubectl", ["kustomize", target], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20 });
}

describe("render matches kubectl kustomize (golden files)", () => {
  it("has at least 80 fixtures", () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(80);
  });

  for (const name of fixtures) {
    const fx = load(name);
    it(fx.name, () => {
      const tree = new DiskTree(join(fx.dir, "in"));
      if (fx.expectedError) {
        let message = "";
        try {
          render(tree, fx.path, fx.vars ? { substitute: fx.vars } : {});
        } catch (error) {
          message = describeError(error);
        }
        expect(message, "render should fail").not.toBe("");
        expect(message).toContain(fx.expectedError);
        return;
      }
      const actual = render(tree, fx.path, fx.vars ? { substitute: fx.vars } : {});
      const expected = parseYamlDocuments(readFileSync(join(fx.dir, "expected.yaml"), "utf8"), "expected.yaml").map((d) => d.value);
      expect(actual.map((o) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name ?? ""}`)).toEqual(
        expected.map((o) => {
          const x = o as { kind: string; metadata: { namespace?: string; name?: string } };
          return `${x.kind}/${x.metadata.namespace ?? ""}/${x.metadata.name ?? ""}`;
        }),
      );
      expect(actual).toEqual(expected);
    });
  }
});

describe.skipIf(!kubectl)("golden files are current with kubectl kustomize", () => {
  for (const name of fixtures) {
    const fx = load(name);
    if (fx.expectedError || fx.vars || fx.plain) continue;
    it(fx.name, () => {
      const output = kubectlKustomize(join(fx.dir, "in", fx.path));
      if (process.env.UPDATE_GOLDENS) writeFileSync(join(fx.dir, "expected.yaml"), output);
      const expected = readFileSync(join(fx.dir, "expected.yaml"), "utf8");
      expect(parseYamlDocuments(output, "kubectl").map((d) => d.value)).toEqual(parseYamlDocuments(expected, "expected.yaml").map((d) => d.value));
    });
  }
});
