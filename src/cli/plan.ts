import { parseArgs } from "node:util";
import type { Kustomization } from "../core/flux.js";
import { assertFleetLayout, cleanPath, planRepository } from "../plan/index.js";
import { formatTable } from "../status/index.js";
import { openRepositoryInput } from "../source/index.js";

/**
 * `flotilla plan [--repo DIR|URL] [--ref REF] [--json]`: the fleet's units as a table
 * (NAMESPACE NAME SOURCE PATH DEPENDS-ON), or with --json the GitRepository and Kustomization
 * objects. Sorted, so the output can be diffed in review. Warnings go to stderr.
 */
export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      repo: { type: "string" },
      ref: { type: "string" },
      json: { type: "boolean" },
      "no-infer": { type: "boolean" },
    },
  });
  const repo = await openRepositoryInput(values.repo);
  const { result, trees, layout } = await planRepository(repo, values.ref, !values["no-infer"]);
  // No fleet is an error here (release notes and diff of such a repository are fine: no impact).
  assertFleetLayout(trees.main!, layout);
  for (const w of result.warnings) process.stderr.write(`warning: ${w}\n`);
  // Units that do not render are still planned (and printed); each error is named, and the exit code says so.
  const reportErrors = (): number => {
    for (const e of result.errors) process.stderr.write(`error: unit ${e.unit} (${e.path}) ${e.message}\n`);
    return result.errors.length > 0 ? 2 : 0;
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result.objects, null, 2)}\n`);
    return reportErrors();
  }
  const rows = result.objects
    .filter((o): o is Kustomization => o.kind === "Kustomization")
    .map((k) => ({
      namespace: k.metadata.namespace,
      name: k.metadata.name,
      source: k.spec.sourceRef.name,
      path: `./${cleanPath(k.spec.path)}`,
      "depends-on":
        (k.spec.dependsOn ?? []).map((d) => (d.namespace ? `${d.namespace}/${d.name}` : d.name)).join(",") || "-",
    }));
  process.stdout.write(formatTable(rows, ["namespace", "name", "source", "path", "depends-on"]));
  return reportErrors();
}
