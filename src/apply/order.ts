import type { KubeObject } from "../core/object.js";

/** The kinds applied first, in this order: cluster definitions, then access control and configuration. */
const KIND_ORDER = [
  "CustomResourceDefinition",
  "Namespace",
  "ClusterRole",
  "ResourceQuota",
  "LimitRange",
  "PodSecurityPolicy",
  "PriorityClass",
  "ServiceAccount",
  "Role",
  "ClusterRoleBinding",
  "RoleBinding",
  "Secret",
  "ConfigMap",
  "PersistentVolume",
  "PersistentVolumeClaim",
  "Service",
  "NetworkPolicy",
  "DaemonSet",
  "Deployment",
  "ReplicaSet",
  "StatefulSet",
  "Job",
  "CronJob",
  "Ingress",
  "HorizontalPodAutoscaler",
  "PodDisruptionBudget",
];
const LAST = ["APIService", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"];

/**
 * Splits objects into the stages of an apply: (1) CRDs, Namespaces and ClusterRoles, after which
 * CRDs must be Established; (2) kinds named `*Class`; (3) everything else in a stable kind order,
 * RBAC and configuration before workloads, custom resources after them, webhooks last.
 */
export function applyStages(objects: readonly KubeObject[]): KubeObject[][] {
  const first: KubeObject[] = [];
  const classes: KubeObject[] = [];
  const rest: KubeObject[] = [];
  for (const o of objects) {
    if (o.kind === "CustomResourceDefinition" || o.kind === "Namespace" || o.kind === "ClusterRole") first.push(o);
    else if (o.kind.endsWith("Class")) classes.push(o);
    else rest.push(o);
  }
  const rank = (o: KubeObject) => {
    const i = KIND_ORDER.indexOf(o.kind);
    if (i >= 0) return i;
    const l = LAST.indexOf(o.kind);
    return l >= 0 ? 1000 + l : 500;
  };
  const sorted = (list: KubeObject[]) =>
    list
      .map((o, i) => ({ o, i }))
      .sort(
        (a, b) =>
          rank(a.o) - rank(b.o) ||
          a.o.kind.localeCompare(b.o.kind) ||
          (a.o.metadata.namespace ?? "").localeCompare(b.o.metadata.namespace ?? "") ||
          (a.o.metadata.name ?? "").localeCompare(b.o.metadata.name ?? "") ||
          a.i - b.i,
      )
      .map((x) => x.o);
  return [sorted(first), sorted(classes), sorted(rest)].filter((s) => s.length > 0);
}
