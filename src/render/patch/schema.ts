import { groupOf, isPlainObject, versionOf, type KubeObject } from "../../core/object.js";

/** How a list merges in a strategic merge patch. */
export interface ListMerge {
  strategy: "merge" | "replace";
  /** The field that identifies an element; absent for a list of scalars merged as a set. */
  key?: string;
}

/**
 * Merge keys of lists, as the Kubernetes API declares them with `patchMergeKey` and
 * `patchStrategy`. `path` is the list's field path from the object root, list indexes omitted.
 */
export interface MergeSchema {
  listMerge(obj: Pick<KubeObject, "apiVersion" | "kind">, path: readonly string[]): ListMerge | undefined;
}

const BUILTIN_GROUPS = new Set([
  "",
  "apps",
  "batch",
  "autoscaling",
  "policy",
  "rbac.authorization.k8s.io",
  "networking.k8s.io",
  "storage.k8s.io",
  "scheduling.k8s.io",
  "admissionregistration.k8s.io",
  "apiextensions.k8s.io",
  "apiregistration.k8s.io",
  "coordination.k8s.io",
  "discovery.k8s.io",
  "node.k8s.io",
  "certificates.k8s.io",
  "events.k8s.io",
  "extensions",
]);

const CONTAINER_LISTS = new Set(["containers", "initContainers", "ephemeralContainers"]);

/** The built-in kinds' merge keys (from the Kubernetes types' patchMergeKey tags). */
export const builtinSchema: MergeSchema = {
  listMerge(obj, path) {
    const field = path[path.length - 1];
    const parent = path[path.length - 2];
    if (field === undefined) return undefined;
    if (parent === "metadata" && path.length === 2) {
      if (field === "finalizers") return { strategy: "merge" };
      if (field === "ownerReferences") return { strategy: "merge", key: "uid" };
      return undefined;
    }
    if (!BUILTIN_GROUPS.has(groupOf(obj.apiVersion))) return undefined;
    if (field === "conditions") return { strategy: "merge", key: "type" };
    if (CONTAINER_LISTS.has(field)) return { strategy: "merge", key: "name" };
    if (parent !== undefined && CONTAINER_LISTS.has(parent)) {
      switch (field) {
        case "env":
          return { strategy: "merge", key: "name" };
        case "ports":
          return { strategy: "merge", key: "containerPort" };
        case "volumeMounts":
          return { strategy: "merge", key: "mountPath" };
        case "volumeDevices":
          return { strategy: "merge", key: "devicePath" };
        case "resizePolicy":
          return { strategy: "merge", key: "resourceName" };
        default:
          return undefined;
      }
    }
    switch (field) {
      case "volumes":
      case "imagePullSecrets":
      case "resourceClaims":
      case "schedulingGates":
        return parent === "spec" ? { strategy: "merge", key: "name" } : undefined;
      case "hostAliases":
        return { strategy: "merge", key: "ip" };
      case "topologySpreadConstraints":
        return { strategy: "merge", key: "topologyKey" };
      case "ports":
        return obj.kind === "Service" && path.length === 2 ? { strategy: "merge", key: "port" } : undefined;
      case "webhooks":
        return obj.kind.endsWith("WebhookConfiguration") ? { strategy: "merge", key: "name" } : undefined;
      case "secrets":
        return obj.kind === "ServiceAccount" ? { strategy: "merge", key: "name" } : undefined;
      default:
        return undefined;
    }
  },
};

/**
 * A schema that adds the merge keys of an OpenAPI document (kustomization `openapi:`):
 * definitions with `x-kubernetes-group-version-kind`, properties with
 * `x-kubernetes-patch-merge-key` / `x-kubernetes-patch-strategy`, `$ref` followed.
 */
export function withOpenApi(base: MergeSchema, doc: unknown): MergeSchema {
  const definitions = (isPlainObject(doc) && isPlainObject(doc.definitions) ? doc.definitions : {}) as Record<string, unknown>;
  const byGvk = new Map<string, Record<string, unknown>>();
  for (const def of Object.values(definitions)) {
    if (!isPlainObject(def)) continue;
    const gvks = def["x-kubernetes-group-version-kind"];
    if (!Array.isArray(gvks)) continue;
    for (const g of gvks) if (isPlainObject(g)) byGvk.set(`${String(g.group ?? "")}/${String(g.version ?? "")}/${String(g.kind ?? "")}`, def);
  }
  const resolve = (node: unknown): Record<string, unknown> | undefined => {
    let current = node;
    for (let i = 0; i < 20 && isPlainObject(current) && typeof current.$ref === "string"; i++) {
      current = definitions[current.$ref.replace(/^#\/definitions\//, "")];
    }
    return isPlainObject(current) ? current : undefined;
  };
  return {
    listMerge(obj, path) {
      let node = resolve(byGvk.get(`${groupOf(obj.apiVersion)}/${versionOf(obj.apiVersion)}/${obj.kind}`));
      if (!node) return base.listMerge(obj, path);
      let property: Record<string, unknown> | undefined;
      for (const segment of path) {
        if (node && node.type === "array") node = resolve(node.items);
        const props: Record<string, unknown> | undefined = node && isPlainObject(node.properties) ? (node.properties as Record<string, unknown>) : undefined;
        property = props ? resolve(props[segment]) : undefined;
        if (!property) return base.listMerge(obj, path);
        node = property;
      }
      const strategy = property?.["x-kubernetes-patch-strategy"];
      const key = property?.["x-kubernetes-patch-merge-key"];
      if (typeof strategy === "string" && strategy.includes("merge")) return { strategy: "merge", ...(typeof key === "string" ? { key } : {}) };
      if (typeof strategy === "string" && strategy.includes("replace")) return { strategy: "replace" };
      return base.listMerge(obj, path);
    },
  };
}
