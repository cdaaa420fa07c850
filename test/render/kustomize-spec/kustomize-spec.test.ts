import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { describeError, FlotillaError } from "../../../src/core/errors.js";
import { DiskTree } from "../../../src/core/file-tree.js";
import { render } from "../../../src/render/index.js";
import { firstDifference, hasKubectl, parseStream } from "../golden-support.js";
import { kubectlKustomize } from "./kubectl.mjs";

/**
 * kustomize's own test suite (v5.5.0) as the renderer's specification: every converted case
 * (see README.md) is rendered by Flotilla and compared with what `kubectl kustomize` printed for
 * it. Cases that still differ are listed in known-differences.json with the reason; a new
 * difference fails, and so does a listed case that now matches (take it off the list).
 */
const HERE = import.meta.dirname;
const CASES = join(HERE, "cases");

interface SpecCase {
  name: string;
  dir: string;
  build: string;
  /** kubectl flags the case needs (`--load-restrictor LoadRestrictionsNone`: Flotilla always builds so, as Flux does). */
  kubectlFlags: string[];
  /** kubectl's output, when it builds. */
  expected?: string;
  /** kubectl's error, when it fails. */
  kubectlError?: string;
}

const cases: SpecCase[] = readdirSync(CASES)
  .sort()
  .map((name) => {
    const dir = join(CASES, name);
    const meta = JSON.parse(readFileSync(join(dir, "case.json"), "utf8")) as { build: string; kubectlFlags?: string[] };
    // The converter always creates the build folder (convert/main.go, writeOut); git keeps no empty
    // folder, so a case whose build folder holds nothing (TestEmptyFileSystem) gets it back here.
    mkdirSync(join(dir, "in", meta.build), { recursive: true });
    const read = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), "utf8") : undefined);
    const expected = read("expected.yaml");
    const kubectlError = read("kubectl-error.txt");
    return {
      name,
      dir,
      build: meta.build,
      kubectlFlags: meta.kubectlFlags ?? [],
      ...(expected !== undefined ? { expected } : {}),
      ...(kubectlError !== undefined ? { kubectlError } : {}),
    };
  });

const known = (
  JSON.parse(readFileSync(join(HERE, "known-differences.json"), "utf8")) as { differences: Record<string, string> }
).differences;

/** How Flotilla's render of a case compares with kubectl's: undefined when it matches, else why not. */
function mismatch(c: SpecCase): string | undefined {
  const tree = new DiskTree(join(c.dir, "in"));
  if (c.kubectlError !== undefined) {
    let thrown: unknown;
    try {
      render(tree, c.build, { kustomizationRequired: true });
    } catch (error) {
      thrown = error;
    }
    if (thrown === undefined) return `kubectl fails (${c.kubectlError.trim().slice(0, 200)}) but Flotilla builds`;
    if (!(thrown instanceof FlotillaError)) return `not a FlotillaError: ${describeError(thrown)}`;
    const { file, field, object, line } = thrown.location;
    if (!file) return `the error names no file: ${thrown.describe()}`;
    // Where in the file: a field, an object, or a line (malformed YAML); a folder that is not there is named itself.
    const missingFolder = thrown.code === "NotFound" && file === (c.build || ".");
    if (!field && !object && line === undefined && !missingFolder)
      return `the error names no field, object or line: ${thrown.describe()}`;
    return undefined;
  }
  let actual: unknown[];
  try {
    actual = render(tree, c.build, { kustomizationRequired: true });
  } catch (error) {
    return `Flotilla fails where kubectl builds: ${describeError(error)}`;
  }
  // Flotilla returns plain objects; compare them as they would print (a YAML round trip drops
  // nothing but undefined values).
  const expected = parseStream(c.expected ?? "", "expected.yaml");
  const difference = firstDifference(actual, expected);
  return difference === undefined ? undefined : `first difference ${difference}`;
}

const results = new Map<string, string | undefined>();

describe("render matches kustomize's own test suite (kubectl kustomize v5.5.0)", () => {
  it("lists only existing cases, each with a reason", () => {
    const names = new Set(cases.map((c) => c.name));
    for (const [name, reason] of Object.entries(known)) {
      expect(names.has(name), `known-differences.json names '${name}', which is not a case`).toBe(true);
      expect(reason.trim().length, `known-differences.json: '${name}' needs a reason`).toBeGreaterThan(10);
    }
  });

  for (const c of cases) {
    it(c.name, () => {
      const why = mismatch(c);
      results.set(c.name, why);
      if (known[c.name] !== undefined) {
        expect(
          why,
          `${c.name} is listed in known-differences.json (${known[c.name]}) but now matches kubectl: take it off the list`,
        ).toBeDefined();
      } else {
        expect(why, `${c.name}: Flotilla differs from kubectl`).toBeUndefined();
      }
    });
  }

  afterAll(() => {
    const builds = cases.filter((c) => c.expected !== undefined);
    const fails = cases.filter((c) => c.kubectlError !== undefined);
    const identical = builds.filter((c) => results.has(c.name) && results.get(c.name) === undefined).length;
    const failsToo = fails.filter((c) => results.has(c.name) && results.get(c.name) === undefined).length;
    if (results.size !== cases.length) return; // a filtered run (-t): no score
    // KUSTOMIZE_SPEC_REPORT=file writes every mismatch (name → why), to review or to seed the list.
    if (process.env.KUSTOMIZE_SPEC_REPORT) {
      const mismatches = Object.fromEntries([...results].filter(([, why]) => why !== undefined));
      writeFileSync(process.env.KUSTOMIZE_SPEC_REPORT, `${JSON.stringify(mismatches, null, 2)}\n`);
    }
    const score = {
      converted: cases.length,
      kustomizeBuilds: builds.length,
      identical,
      identicalPercent: Number(((100 * identical) / builds.length).toFixed(1)),
      kustomizeFails: fails.length,
      flotillaFailsNamingFileAndField: failsToo,
    };
    console.log(
      `kustomize spec: ${score.converted} converted cases, kustomize builds ${score.kustomizeBuilds}, identical ${identical} (${score.identicalPercent}%); ` +
        `kustomize fails ${fails.length}, Flotilla fails naming file and field/object ${failsToo}\n${JSON.stringify({ kustomizeSpec: score })}`,
    );
  });
});

describe.skipIf(!hasKubectl())("the committed expected outputs are what kubectl kustomize prints", () => {
  for (const c of cases) {
    it(c.name, async () => {
      const result = await kubectlKustomize(c.dir, c.build, c.kubectlFlags);
      if (!result.ok) {
        expect(c.kubectlError, `kubectl now fails: ${result.error}`).toBeDefined();
        // The start of the message only: kustomize names objects in Go map order in some errors.
        expect(result.error.trim().slice(0, 40)).toBe(c.kubectlError!.trim().slice(0, 40));
        return;
      }
      expect(c.expected, "kubectl now builds this case; run regenerate.mjs").toBeDefined();
      expect(
        firstDifference(parseStream(result.output, "kubectl output"), parseStream(c.expected!, "expected.yaml")),
      ).toBeUndefined();
    });
  }
});
