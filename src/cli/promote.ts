import { parseArgs } from "node:util";
import { InvalidInputError } from "../core/errors.js";
import { promote } from "../release/index.js";
import { openRepositoryInput } from "../source/index.js";

/**
 * `flotilla promote TAG [--repo DIR] [--env prod] [--push] [--remote-branch NAME] [--json]`: a branch
 * `promote/<env>-<TAG>` with one commit that moves the environment's release source to TAG (see
 * release/promote.ts); with `--push`, pushed and the pull-request page printed.
 */
export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      repo: { type: "string" },
      env: { type: "string" },
      push: { type: "boolean" },
      "remote-branch": { type: "string" },
      json: { type: "boolean" },
    },
  });
  const tag = positionals[0];
  if (!tag) throw new InvalidInputError("give the TAG to promote (for example v0.0.3)", { field: "TAG" });
  const repo = await openRepositoryInput(values.repo);
  const out = await promote(repo, {
    tag,
    ...(values.env ? { env: values.env } : {}),
    ...(values.push ? { push: true } : {}),
    ...(values["remote-branch"] ? { remoteBranch: values["remote-branch"] } : {}),
  });
  process.stdout.write(
    values.json
      ? `${JSON.stringify(out, null, 2)}\n`
      : `created branch ${out.branch} (${out.commit.slice(0, 12)}): ${out.title}\n  ${out.file}: ${out.from ?? "(none)"} -> ${out.to}\n${out.pullRequest ? `open the pull request: ${out.pullRequest}\n` : ""}`,
  );
  return 0;
}
