import { isMasked, type FieldChange } from "../core/field-diff.js";
import { toYaml } from "../core/yaml.js";
import type { ClusterDiff, FleetDiff } from "./fleet-diff.js";

/** GitHub's limit on one comment body. */
export const PR_COMMENT_LIMIT = 65_536;

function valueText(value: unknown): string {
  if (isMasked(value)) return "(secret value)";
  if (value === undefined) return "";
  const text = toYaml(value).trimEnd();
  return text;
}

function fieldLines(field: FieldChange, indent: string): string[] {
  if (isMasked(field.from) || isMasked(field.to)) {
    return [`${indent}~ ${field.path}: secret value ${field.change === "changed" ? "changed" : field.change}`];
  }
  const lines = [`${indent}${field.change === "added" ? "+" : field.change === "removed" ? "-" : "~"} ${field.path}`];
  const block = (sign: string, value: unknown) =>
    valueText(value)
      .split("\n")
      .map((l) => `${indent}    ${sign} ${l}`);
  if (field.change !== "added") lines.push(...block("-", field.from));
  if (field.change !== "removed") lines.push(...block("+", field.to));
  return lines;
}

function clusterText(cluster: ClusterDiff): string[] {
  const title = cluster.environment ? `${cluster.cluster} (${cluster.environment})` : cluster.cluster;
  const lines = [`cluster ${title}`];
  for (const unit of cluster.units) {
    lines.push(`  unit ${unit.unit}${unit.change === "changed" ? "" : ` (${unit.change})`}`);
    for (const o of unit.objects) {
      lines.push(`    ${o.change === "added" ? "+" : o.change === "removed" ? "-" : "~"} ${o.ref}`);
      for (const f of o.fields ?? []) lines.push(...fieldLines(f, "      "));
    }
  }
  return lines;
}

/** The diff as plain text, one block per cluster. */
export function formatDiffText(diff: FleetDiff): string {
  if (diff.clusters.length === 0) return "no changes\n";
  const s = diff.summary;
  const blocks = diff.clusters.map((c) => clusterText(c).join("\n"));
  return `${blocks.join("\n\n")}\n\n${s.clusters} cluster(s), ${s.units} unit(s): ${s.added} added, ${s.changed} changed, ${s.removed} removed\n`;
}

/**
 * The diff as a pull-request comment: a summary table (cluster × units changed) and a collapsible
 * section per cluster, cut to fit `limit` characters with a note saying what was left out.
 */
export function formatDiffMarkdown(diff: FleetDiff, limit = PR_COMMENT_LIMIT): string {
  if (diff.clusters.length === 0) return "### Flotilla diff\n\nNo changes to any cluster.\n";
  const s = diff.summary;
  const head = [
    "### Flotilla diff",
    "",
    `${s.clusters} cluster(s), ${s.units} unit(s): **${s.added}** added, **${s.changed}** changed, **${s.removed}** removed`,
    "",
    "| cluster | units changed | objects +/~/- |",
    "|---|---|---|",
    ...diff.clusters.map((c) => {
      const count = (k: "added" | "changed" | "removed") =>
        c.units.reduce((n, u) => n + u.objects.filter((o) => o.change === k).length, 0);
      const units = c.units
        .map((u) => `\`${u.unit.split("/").pop()}\`${u.change === "changed" ? "" : ` (${u.change})`}`)
        .join(", ");
      return `| ${c.environment ? `${c.cluster} (${c.environment})` : c.cluster} | ${units} | ${count("added")}/${count("changed")}/${count("removed")} |`;
    }),
    "",
  ].join("\n");
  const sections = diff.clusters.map(
    (c) =>
      `<details><summary>${c.cluster}</summary>\n\n\`\`\`diff\n${clusterText(c).slice(1).join("\n")}\n\`\`\`\n\n</details>\n`,
  );
  let out = head;
  for (let i = 0; i < sections.length; i++) {
    const note = `\n_Truncated: ${sections.length - i} cluster section(s) left out to fit the ${limit}-character comment limit; run \`flotilla diff\` locally for the rest._\n`;
    if (out.length + sections[i]!.length + note.length > limit) return out + note;
    out += sections[i];
  }
  return out;
}
