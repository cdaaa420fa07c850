import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isPlainObject } from "../../src/core/object.js";
import { parseYamlDocuments } from "../../src/core/yaml.js";

/** The file names kustomize recognizes as a kustomization, in the order it tries them. */
const KUSTOMIZATION_NAMES = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/** One fixture folder: the input tree `in/`, what to render in it, and what must come out. */
export interface Fixture {
  name: string;
  dir: string;
  /** The folder to render, relative to `in/` ("" is `in/` itself). */
  path: string;
  /** Flux postBuild substitution variables (`vars.json`). */
  vars?: Record<string, string>;
  /** Substrings the error must contain, one per non-empty line of `expected-error.txt`. */
  expectedError?: string[];
  /** The render folder has no kustomization file: Flux generates one. */
  plain: boolean;
  /** Extra `kubectl kustomize` flags (`kubectl-flags.txt`), where Flux builds differently from kubectl's defaults. */
  kubectlFlags: string[];
}

/** Reads a fixture folder's metadata files. */
export function loadFixture(fixtures: string, name: string): Fixture {
  const dir = join(fixtures, name);
  const read = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), "utf8").trim() : undefined);
  const path = read("render-path.txt") ?? "";
  const vars = read("vars.json");
  const expectedError = read("expected-error.txt");
  return {
    name,
    dir,
    path,
    ...(vars !== undefined ? { vars: JSON.parse(vars) as Record<string, string> } : {}),
    ...(expectedError !== undefined
      ? {
          expectedError: expectedError
            .split("\n")
            .map((l) => l.trim())
            .filter(Boolean),
        }
      : {}),
    plain: !KUSTOMIZATION_NAMES.some((f) => existsSync(join(dir, "in", path, f))),
    kubectlFlags: (read("kubectl-flags.txt") ?? "").split(/\s+/).filter(Boolean),
  };
}

/** Parses a rendered YAML stream into plain values, dropping empty documents. */
export function parseStream(text: string, file: string): unknown[] {
  return parseYamlDocuments(text, file)
    .map((d) => d.value)
    .filter((v) => v !== null && v !== undefined);
}

function label(value: unknown): string {
  if (!isPlainObject(value)) return "(not an object)";
  const meta = isPlainObject(value.metadata) ? value.metadata : {};
  const ns = typeof meta.namespace === "string" ? `${meta.namespace}/` : "";
  return `${String(value.kind)}/${ns}${String(meta.name)}`;
}

function show(value: unknown): string {
  return value === undefined ? "(absent)" : JSON.stringify(value);
}

function differenceIn(actual: unknown, expected: unknown, path: string): string | undefined {
  if (Array.isArray(actual) && Array.isArray(expected)) {
    for (let i = 0; i < Math.max(actual.length, expected.length); i++) {
      const d = differenceIn(actual[i], expected[i], `${path}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  if (isPlainObject(actual) && isPlainObject(expected)) {
    const keys = [...new Set([...Object.keys(expected), ...Object.keys(actual)])];
    for (const key of keys) {
      const d = differenceIn(actual[key], expected[key], path ? `${path}.${key}` : key);
      if (d) return d;
    }
    return undefined;
  }
  if (Object.is(actual, expected)) return undefined;
  return `${path || "(whole object)"}: expected ${show(expected)}, got ${show(actual)}`;
}

/**
 * The first place two object lists differ, as `#index Kind/ns/name: field.path: expected …, got …`
 * (or a count/order mismatch), or undefined when they are equal.
 */
export function firstDifference(actual: readonly unknown[], expected: readonly unknown[]): string | undefined {
  for (let i = 0; i < Math.max(actual.length, expected.length); i++) {
    if (i >= actual.length) return `#${i} ${label(expected[i])}: missing (the render yields ${actual.length} objects)`;
    if (i >= expected.length)
      return `#${i} ${label(actual[i])}: not expected (kustomize yields ${expected.length} objects)`;
    if (label(actual[i]) !== label(expected[i]))
      return `#${i}: expected ${label(expected[i])}, got ${label(actual[i])}`;
    const d = differenceIn(actual[i], expected[i], "");
    if (d) return `#${i} ${label(expected[i])}: ${d}`;
  }
  return undefined;
}

/**
 * The resources of the kustomization Flux's kustomize-controller generates for a folder without
 * one: a lexical walk listing every `.yaml`/`.yml` file, with a sub-folder that holds a
 * kustomization file listed as one resource and not descended into.
 */
export function fluxGeneratedResources(dir: string): string[] {
  const resources: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      if (statSync(join(dir, path)).isDirectory()) {
        if (KUSTOMIZATION_NAMES.some((f) => existsSync(join(dir, path, f)))) resources.push(path);
        else walk(path);
      } else if (/\.ya?ml$/.test(name)) {
        resources.push(path);
      }
    }
  };
  walk("");
  return resources;
}

/**
 * Whether `kubectl` (the oracle for the golden and spec tests) is on PATH. With `CI` set a missing
 * kubectl is an error, so a CI run never skips the re-render checks silently (test/setup.sh says
 * where kubectl comes from).
 */
export function hasKubectl(): boolean {
  try {
    execFileSync("kubectl", ["version", "--client"], { stdio: "ignore" });
    return true;
  } catch {
    if (process.env.CI)
      throw new Error(
        "CI is set but kubectl is not on PATH: the kubectl kustomize oracle checks cannot run (see test/setup.sh)",
      );
    return false;
  }
}

/** `kubectl kustomize [FLAGS] DIR`: its output, or the error it printed as the thrown message. */
export function kubectlKustomize(dir: string, flags: string[] = []): string {
  try {
    return execFileSync("kubectl", ["kustomize", ...flags, dir], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      maxBuffer: 64 << 20,
    });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? "";
    throw new Error(`kubectl kustomize ${dir} failed: ${stderr.trim()}`);
  }
}

/**
 * What kustomize makes of a fixture's render folder. A folder without a kustomization file is
 * copied and given the kustomization Flux would generate, since kubectl cannot render it as is.
 */
export function kubectlRenderFixture(fx: Fixture): string {
  const target = join(fx.dir, "in", fx.path);
  if (!fx.plain) return kubectlKustomize(target, fx.kubectlFlags);
  const copy = mkdtempSync(join(tmpdir(), "flotilla-golden-"));
  try {
    cpSync(target, copy, { recursive: true });
    const resources = fluxGeneratedResources(copy);
    writeFileSync(join(copy, "kustomization.yaml"), `resources:\n${resources.map((r) => `- ${r}\n`).join("")}`);
    return kubectlKustomize(copy, fx.kubectlFlags);
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

/** Where a coverage pattern is looked for: kustomization files only, or every file of the input. */
export type CoverageScope = "kustomization" | "any";

/** The text of a fixture's input files in a scope, joined. */
export function fixtureText(fx: Fixture, scope: CoverageScope): string {
  const texts: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (scope === "any" || KUSTOMIZATION_NAMES.includes(name)) texts.push(readFileSync(path, "utf8"));
    }
  };
  walk(join(fx.dir, "in"));
  return texts.join("\n---\n");
}
