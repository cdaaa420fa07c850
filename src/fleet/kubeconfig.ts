import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { parseYamlDocument, toYaml } from "../core/yaml.js";
import type { Harness } from "../provision/index.js";

/** Writes one kubeconfig with a context per control plane of the harness, `mgmt` first and current (mode 0600). */
export function writeFleetKubeconfig(path: string, harness: Pick<Harness, "clusters">): void {
  const planes = [
    ...harness.clusters.filter((c) => c.name === "mgmt"),
    ...harness.clusters.filter((c) => c.name !== "mgmt"),
  ];
  writeKubeconfig(path, planes);
}

function writeKubeconfig(path: string, planes: Array<{ name: string; kubeconfig: string }>): void {
  const docs = planes.map((p) => ({ name: p.name, doc: parseKubeconfig(p.kubeconfig) }));
  const merged = {
    apiVersion: "v1",
    kind: "Config",
    clusters: docs.flatMap((d) => d.doc.clusters ?? []),
    users: docs.flatMap((d) => d.doc.users ?? []),
    contexts: docs.flatMap((d) => d.doc.contexts ?? []),
    "current-context": "mgmt",
  };
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, toYaml(merged), { mode: 0o600 });
}

function parseKubeconfig(text: string): { clusters?: unknown[]; users?: unknown[]; contexts?: unknown[] } {
  return (parseYamlDocument(text, "kubeconfig") ?? {}) as {
    clusters?: unknown[];
    users?: unknown[];
    contexts?: unknown[];
  };
}
