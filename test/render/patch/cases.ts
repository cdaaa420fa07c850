import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { isPlainObject, type KubeObject } from "../../../src/core/object.js";
import { parseYamlDocument, parseYamlDocuments } from "../../../src/core/yaml.js";
import { applyJson6902 } from "../../../src/render/patch/json6902.js";
import { builtinSchema, withOpenApi, type MergeSchema } from "../../../src/render/patch/schema.js";
import { strategicMerge } from "../../../src/render/patch/strategic-merge.js";

/**
 * The patch cases: each folder under cases/ is a kustomization a person can run
 * (`kubectl kustomize cases/<name>`): base.yaml, one or more patches, maybe an OpenAPI schema, and
 * what kubectl printed for it (expected.yaml) or the error it gave (expected-error.txt).
 * tools/refresh-expected.sh rewrites those from kubectl.
 */
export const CASES_DIR = join(import.meta.dirname, "cases");

export interface PatchCase {
  name: string;
  dir: string;
  resources: KubeObject[];
  patches: Array<{ file: string; docs: unknown[]; target?: { kind?: string; name?: string } }>;
  schema: MergeSchema;
  expected?: KubeObject[];
  expectedError?: string;
}

/** Every case folder's name, sorted. */
export function caseNames(): string[] {
  return readdirSync(CASES_DIR, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

function readDocs(dir: string, file: string): unknown[] {
  return parseYamlDocuments(readFileSync(join(dir, file), "utf8"), file)
    .map((d) => d.value)
    .filter((v) => v !== null && v !== undefined);
}

/** Reads one case folder. */
export function loadCase(name: string): PatchCase {
  const dir = join(CASES_DIR, name);
  const kustomization = parseYamlDocument(
    readFileSync(join(dir, "kustomization.yaml"), "utf8"),
    "kustomization.yaml",
  ) as {
    resources: string[];
    patches: Array<{ path: string; target?: { kind?: string; name?: string } }>;
    openapi?: { path: string };
  };
  const openapiPath = kustomization.openapi?.path;
  const schema = openapiPath
    ? withOpenApi(builtinSchema, JSON.parse(readFileSync(join(dir, openapiPath), "utf8")), openapiPath)
    : builtinSchema;
  const errorFile = join(dir, "expected-error.txt");
  return {
    name,
    dir,
    resources: kustomization.resources.flatMap((f) => readDocs(dir, f)) as KubeObject[],
    patches: kustomization.patches.map((p) => ({
      file: p.path,
      docs: readDocs(dir, p.path),
      ...(p.target ? { target: p.target } : {}),
    })),
    schema,
    ...(existsSync(errorFile)
      ? { expectedError: readFileSync(errorFile, "utf8") }
      : { expected: readDocs(dir, "expected.yaml") as KubeObject[] }),
  };
}

function matches(obj: KubeObject, kind: string | undefined, name: string | undefined): boolean {
  return (kind === undefined || obj.kind === kind) && (name === undefined || obj.metadata.name === name);
}

/** Applies the case's patches in order with the code under test, as kustomize's patch transformer would. */
export function applyCase(c: PatchCase): KubeObject[] {
  let objects = c.resources;
  for (const patch of c.patches) {
    const [first] = patch.docs;
    if (patch.docs.length === 1 && Array.isArray(first)) {
      objects = objects.map((o) =>
        matches(o, patch.target?.kind, patch.target?.name)
          ? applyJson6902(o, first, { file: patch.file, object: `${o.kind}/${o.metadata.name}` })
          : o,
      );
      continue;
    }
    for (const doc of patch.docs) {
      if (!isPlainObject(doc)) throw new Error(`${c.name}/${patch.file}: not a map`);
      const id = doc as unknown as KubeObject;
      const kind = patch.target?.kind ?? id.kind;
      const name = patch.target?.name ?? id.metadata.name;
      objects = objects.flatMap((o) => {
        if (!matches(o, kind, name)) return [o];
        const merged = strategicMerge(o, doc, c.schema);
        return merged === null ? [] : [merged];
      });
    }
  }
  return objects;
}

/** Objects keyed `Kind/name`, the way the comparison pairs actual with expected output. */
export function byId(objects: readonly KubeObject[]): Record<string, KubeObject> {
  return Object.fromEntries(objects.map((o) => [`${o.kind}/${o.metadata.name}`, o]));
}
