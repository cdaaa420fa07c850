import { groupOf, versionOf, type KubeObject } from "../core/object.js";

const ORDER_FIRST = [
  "Namespace",
  "ResourceQuota",
  "StorageClass",
  "CustomResourceDefinition",
  "ServiceAccount",
  "PodSecurityPolicy",
  "Role",
  "ClusterRole",
  "RoleBinding",
  "ClusterRoleBinding",
  "ConfigMap",
  "Secret",
  "Endpoints",
  "Service",
  "LimitRange",
  "PriorityClass",
  "PersistentVolume",
  "PersistentVolumeClaim",
  "Deployment",
  "StatefulSet",
  "CronJob",
  "PodDisruptionBudget",
];
const ORDER_LAST = ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"];

/**
 * kustomize's `legacy` order: kinds listed first (Namespaces, CRDs, RBAC, config, Services,
 * workloads …) and last (webhooks), the rest in between by group, version and kind; objects of one
 * kind by namespace (none last) and name.
 */
export function legacySort<T extends { obj: KubeObject }>(
  items: readonly T[],
  options: { orderFirst?: string[]; orderLast?: string[] } = {},
): T[] {
  const first = options.orderFirst ?? ORDER_FIRST;
  const last = options.orderLast ?? ORDER_LAST;
  const rank = new Map<string, number>();
  first.forEach((k, i) => rank.set(k, i - first.length));
  last.forEach((k, i) => rank.set(k, i + 1));
  const keyed = items.map((item, index) => {
    const o = item.obj;
    const gvk = `${groupOf(o.apiVersion) || "~G"}_${versionOf(o.apiVersion) || "~V"}_${o.kind || "~K"}`;
    return {
      item,
      index,
      rank: rank.get(o.kind) ?? 0,
      gvk,
      ns: o.metadata.namespace || "~X",
      name: o.metadata.name ?? "",
    };
  });
  keyed.sort((a, b) => {
    if (a.gvk !== b.gvk) {
      if (a.rank !== b.rank) return a.rank - b.rank;
      return a.gvk < b.gvk ? -1 : 1;
    }
    if (a.ns !== b.ns) return a.ns < b.ns ? -1 : 1;
    if (a.name !== b.name) return a.name < b.name ? -1 : 1;
    return a.index - b.index;
  });
  return keyed.map((k) => k.item);
}
