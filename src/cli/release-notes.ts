import { parseArgs } from "node:util";
import { InvalidInputError } from "../core/errors.js";
import { forgeLinks, formatReleaseNotesMarkdown, nextRelease, releaseNotesWithImpact } from "../release/index.js";
import { openRepositoryInput } from "../source/index.js";

/**
 * `flotilla release-notes FROM..TO [--repo DIR] [--format md|json]`: what TO adds over FROM,
 * grouped by commit type, with the impact on each environment and cluster.
 * `flotilla release-notes --next`: the next semantic version from the commits since the last tag.
 */
export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      repo: { type: "string" },
      format: { type: "string" },
      json: { type: "boolean" },
      next: { type: "boolean" },
    },
  });
  const repo = await openRepositoryInput(values.repo);
  if (!repo.local)
    throw new InvalidInputError("release notes read the history of a local clone; pass --repo DIR", {
      field: "--repo",
    });
  const format = values.json ? "json" : (values.format ?? "md");
  if (values.next) {
    const { reason, ...release } = await nextRelease(repo.local);
    // Nothing to release prints no version, so `v=$(flotilla release-notes --next) && git tag "$v"` stops there.
    if (format === "json") process.stdout.write(`${JSON.stringify(release)}\n`);
    else if (release.next) process.stdout.write(`${release.next}\n`);
    else process.stderr.write(`nothing to release: ${reason}\n`);
    return release.next ? 0 : 1;
  }
  const match = positionals[0] ? /^(.+?)\.\.(.+)$/.exec(positionals[0]) : null;
  if (!match)
    throw new InvalidInputError("give the range as FROM..TO (for example v0.0.2..v0.0.3)", { field: "FROM..TO" });
  const notes = await releaseNotesWithImpact(repo, match[1]!, match[2]!);
  process.stdout.write(
    format === "json"
      ? `${JSON.stringify(notes, null, 2)}\n`
      : formatReleaseNotesMarkdown(notes, repo.url ? forgeLinks(repo.url) : undefined),
  );
  return 0;
}
