import { groupOf, versionOf, type KubeObject } from "../../core/object.js";

const CAPI_GROUP = /(^|\.)cluster\.x-k8s\.io$/;
const ALL_VERSIONS = ["v1alpha3", "v1alpha4", "v1beta1", "v1beta2"];

function plural(kind: string): string {
  const lower = kind.toLowerCase();
  if (/(s|x|ch|sh)$/.test(lower)) return `${lower}es`;
  if (/[^aeiou]y$/.test(lower)) return `${lower.slice(0, -1)}ies`;
  return `${lower}s`;
}

/**
 * Permissive stand-in CRDs for the Cluster API kinds a repository uses that the management
 * cluster does not serve (AWSCluster, KubeadmControlPlane, MachineDeployment, …): every common
 * version served, unknown fields kept, status subresource, labelled `flotilla.dev/stand-in`. They
 * let a cloud fleet's manifests apply on one machine; they do not implement those providers.
 */
export function standInCrds(
  objects: readonly KubeObject[],
  served: (apiVersion: string, kind: string) => boolean,
): KubeObject[] {
  const kinds = new Map<string, { group: string; kind: string; versions: Set<string>; namespaced: boolean }>();
  for (const o of objects) {
    const group = groupOf(o.apiVersion);
    if (!CAPI_GROUP.test(group) || served(o.apiVersion, o.kind)) continue;
    const key = `${group}/${o.kind}`;
    let entry = kinds.get(key);
    if (!entry)
      kinds.set(
        key,
        (entry = {
          group,
          kind: o.kind,
          versions: new Set(ALL_VERSIONS),
          namespaced: !o.kind.startsWith("Cluster") || !!o.metadata.namespace,
        }),
      );
    entry.versions.add(versionOf(o.apiVersion));
  }
  return [...kinds.values()].map(({ group, kind, versions, namespaced }) => {
    const list = [...versions].sort();
    const storage = list.includes("v1beta1") ? "v1beta1" : list[list.length - 1]!;
    return {
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: `${plural(kind)}.${group}`, labels: { "flotilla.dev/stand-in": "true" } },
      spec: {
        group,
        scope: namespaced ? "Namespaced" : "Cluster",
        names: { kind, listKind: `${kind}List`, plural: plural(kind), singular: kind.toLowerCase() },
        versions: list.map((name) => ({
          name,
          served: true,
          storage: name === storage,
          subresources: { status: {} },
          schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
        })),
      },
    };
  });
}
