import { parseArgs } from "node:util";
import { InvalidInputError } from "../core/errors.js";
import { diffLive, diffRevisions, formatDiffMarkdown, formatDiffText, type FleetDiff } from "../diff/index.js";
import { openRepositoryInput } from "../source/index.js";

/**
 * `flotilla diff [--repo DIR|URL] --base REF --head REF [--format text|md|json] [--cluster NAME]`:
 * per cluster and unit, what the head revision changes compared with the base — offline, from git
 * alone. `flotilla diff --live --kubeconfig FILE [--cluster NAME] [--head REF]`: what applying the
 * head revision (default: the work tree) to that live cluster would change, through server-side
 * dry runs. Exit 0 no difference, 1 differences, 2 error, as `flux diff`.
 */
export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      repo: { type: "string" },
      base: { type: "string" },
      head: { type: "string" },
      format: { type: "string" },
      json: { type: "boolean" },
      cluster: { type: "string", multiple: true },
      live: { type: "boolean" },
      kubeconfig: { type: "string" },
    },
  });
  const format = values.json ? "json" : (values.format ?? "text");
  if (!["text", "md", "json"].includes(format))
    throw new InvalidInputError(`--format must be text, md or json, not '${format}'`, { field: "--format" });
  let diff: FleetDiff;
  if (values.live) {
    if (!values.kubeconfig)
      throw new InvalidInputError("--live needs --kubeconfig FILE (the cluster to compare with)", {
        field: "--kubeconfig",
      });
    if (values.base)
      throw new InvalidInputError(
        "--live compares --head (default: the work tree) with the cluster; --base is not used",
        {
          field: "--base",
        },
      );
    if ((values.cluster?.length ?? 0) > 1)
      throw new InvalidInputError("--live compares one cluster; give --cluster once", { field: "--cluster" });
    const live = await diffLive(await openRepositoryInput(values.repo), {
      kubeconfigFile: values.kubeconfig,
      ...(values.head ? { head: values.head } : {}),
      ...(values.cluster?.[0] ? { cluster: values.cluster[0] } : {}),
    });
    for (const s of live.skipped) process.stderr.write(`note: ${s.unit}: ${s.ref} not applied: ${s.note}\n`);
    diff = live.diff;
  } else {
    if (values.kubeconfig)
      throw new InvalidInputError("--kubeconfig is only used with --live", { field: "--kubeconfig" });
    if (!values.base || !values.head)
      throw new InvalidInputError("--base and --head are required", { field: values.base ? "--head" : "--base" });
    diff = await diffRevisions(await openRepositoryInput(values.repo), values.base, values.head, values.cluster);
  }
  process.stdout.write(
    format === "json"
      ? `${JSON.stringify(diff, null, 2)}\n`
      : format === "md"
        ? formatDiffMarkdown(diff)
        : formatDiffText(diff),
  );
  return diff.clusters.length > 0 ? 1 : 0;
}
