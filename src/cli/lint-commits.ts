import { parseArgs } from "node:util";
import { InvalidInputError } from "../core/errors.js";
import { lintCommits } from "../release/index.js";
import { openRepositoryInput } from "../source/index.js";

/**
 * `flotilla lint-commits BASE..HEAD [--repo DIR] [--json]`: checks that every commit title in the
 * range follows `type(scope): subject (#PR)`; exit 1 when one does not (a pull-request check).
 */
export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { repo: { type: "string" }, json: { type: "boolean" } },
  });
  const match = positionals[0] ? /^(.+?)\.\.(.+)$/.exec(positionals[0]) : null;
  if (!match)
    throw new InvalidInputError("give the range as BASE..HEAD (for example main..my-branch)", { field: "BASE..HEAD" });
  const repo = await openRepositoryInput(values.repo);
  if (!repo.local)
    throw new InvalidInputError("lint-commits reads a local clone; pass --repo DIR", { field: "--repo" });
  const results = await lintCommits(repo.local, match[1], match[2]!);
  const bad = results.filter((r) => r.problems.length > 0);
  if (values.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  else {
    for (const r of bad)
      process.stdout.write(`${r.sha.slice(0, 7)} ${r.title}\n${r.problems.map((p) => `  - ${p}`).join("\n")}\n`);
    process.stdout.write(`${results.length} commit(s) checked, ${bad.length} not following the convention\n`);
  }
  return bad.length > 0 ? 1 : 0;
}
