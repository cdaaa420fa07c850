import { groupOf, versionOf, type KubeObject } from "../core/object.js";

/**
 * Field specs say which field of which kinds a transformer touches, in kustomize's notation:
 * `spec/template/spec/containers[]/image`, a `\/` inside a segment being a literal slash. A list met
 * on the way is walked element by element. `create` adds missing maps on the way.
 */
export interface FieldSpec {
  group?: string;
  version?: string;
  kind?: string;
  path: string[];
  create?: boolean;
}

/** Splits a field-spec path on unescaped `/`; `[]` and `[name=x]` suffixes are kept in the segment. */
export function parsePath(path: string): string[] {
  const out: string[] = [];
  let current = "";
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    if (c === "\\" && path[i + 1] === "/") {
      current += "/";
      i++;
    } else if (c === "/") {
      out.push(current);
      current = "";
    } else current += c;
  }
  out.push(current);
  return out.filter((s) => s !== "");
}

export function spec(
  path: string,
  kind?: string,
  extra: { group?: string; version?: string; create?: boolean } = {},
): FieldSpec {
  return { path: parsePath(path), ...(kind ? { kind } : {}), ...extra };
}

/** Whether a field spec applies to an object (an empty group/version/kind matches any). */
export function specMatches(fs: FieldSpec, obj: KubeObject): boolean {
  if (fs.kind && fs.kind !== obj.kind) return false;
  if (fs.group !== undefined && fs.group !== groupOf(obj.apiVersion)) return false;
  if (fs.version && fs.version !== versionOf(obj.apiVersion)) return false;
  return true;
}

/** Converts a `configurations:` entry (`{path, kind, group, version, create}`) into a FieldSpec. */
export function fieldSpecFromConfig(entry: Record<string, unknown>): FieldSpec {
  const out: FieldSpec = { path: parsePath(String(entry.path ?? "")) };
  if (typeof entry.kind === "string") out.kind = entry.kind;
  if (typeof entry.group === "string") out.group = entry.group;
  if (typeof entry.version === "string") out.version = entry.version;
  if (entry.create === true) out.create = true;
  return out;
}

// The pod template of each workload kind, as a path prefix.
const POD_SPECS: Array<[kind: string, prefix: string]> = [
  ["Pod", "spec"],
  ["PodTemplate", "template/spec"],
  ["Deployment", "spec/template/spec"],
  ["ReplicaSet", "spec/template/spec"],
  ["DaemonSet", "spec/template/spec"],
  ["StatefulSet", "spec/template/spec"],
  ["Job", "spec/template/spec"],
  ["CronJob", "spec/jobTemplate/spec/template/spec"],
];
const TEMPLATE_METADATA: Array<[kind: string, prefix: string]> = [
  ["ReplicationController", "spec/template/metadata"],
  ["Deployment", "spec/template/metadata"],
  ["ReplicaSet", "spec/template/metadata"],
  ["DaemonSet", "spec/template/metadata"],
  ["StatefulSet", "spec/template/metadata"],
  ["Job", "spec/template/metadata"],
  ["CronJob", "spec/jobTemplate/metadata"],
  ["CronJob", "spec/jobTemplate/spec/template/metadata"],
];

function inPodSpecs(relative: string[], kinds = POD_SPECS, opts: { v1Pod?: boolean } = {}): FieldSpec[] {
  const out: FieldSpec[] = [];
  for (const [kind, prefix] of kinds) {
    for (const rel of relative)
      out.push(spec(`${prefix}/${rel}`, kind, kind === "Pod" && opts.v1Pod ? { version: "v1" } : {}));
  }
  return out;
}

/** A kind that other objects refer to by name, and the fields that hold such references. */
export interface NameReference {
  group?: string;
  version?: string;
  kind: string;
  fieldSpecs: FieldSpec[];
}

const ROLE_RESOURCE_NAMES = [spec("rules/resourceNames", "Role"), spec("rules/resourceNames", "ClusterRole")];

/** kustomize's built-in name references. */
export function builtinNameReferences(): NameReference[] {
  const serviceAccountKinds: Array<[string, string]> = [
    ["Pod", "spec"],
    ["StatefulSet", "spec/template/spec"],
    ["Deployment", "spec/template/spec"],
    ["ReplicationController", "spec/template/spec"],
    ["CronJob", "spec/jobTemplate/spec/template/spec"],
    ["Job", "spec/template/spec"],
    ["DaemonSet", "spec/template/spec"],
  ];
  return [
    ...["Deployment", "ReplicationController", "ReplicaSet", "StatefulSet"].map((kind) => ({
      kind,
      fieldSpecs: [spec("spec/scaleTargetRef/name", "HorizontalPodAutoscaler")],
    })),
    {
      kind: "ConfigMap",
      version: "v1",
      fieldSpecs: [
        ...inPodSpecs(
          [
            "volumes/configMap/name",
            "containers/env/valueFrom/configMapKeyRef/name",
            "initContainers/env/valueFrom/configMapKeyRef/name",
            "containers/envFrom/configMapRef/name",
            "initContainers/envFrom/configMapRef/name",
            "volumes/projected/sources/configMap/name",
          ],
          POD_SPECS,
          { v1Pod: true },
        ),
        spec("spec/configSource/configMap", "Node"),
        ...ROLE_RESOURCE_NAMES,
        spec("metadata/annotations/nginx.ingress.kubernetes.io\\/fastcgi-params-configmap", "Ingress"),
      ],
    },
    {
      kind: "Secret",
      version: "v1",
      fieldSpecs: [
        ...inPodSpecs(
          [
            "volumes/secret/secretName",
            "containers/env/valueFrom/secretKeyRef/name",
            "initContainers/env/valueFrom/secretKeyRef/name",
            "containers/envFrom/secretRef/name",
            "initContainers/envFrom/secretRef/name",
            "imagePullSecrets/name",
            "volumes/projected/sources/secret/name",
          ],
          POD_SPECS,
          { v1Pod: true },
        ),
        spec("spec/tls/secretName", "Ingress"),
        spec("metadata/annotations/ingress.kubernetes.io\\/auth-secret", "Ingress"),
        spec("metadata/annotations/nginx.ingress.kubernetes.io\\/auth-secret", "Ingress"),
        spec("metadata/annotations/nginx.ingress.kubernetes.io\\/auth-tls-secret", "Ingress"),
        spec("imagePullSecrets/name", "ServiceAccount"),
        ...["secretName", "adminSecretName", "userSecretName", "secretRef"].map((p) =>
          spec(`parameters/${p}`, "StorageClass"),
        ),
        ...ROLE_RESOURCE_NAMES,
        spec("spec/template/spec/containers/env/valueFrom/secretKeyRef/name", "Service", {
          group: "serving.knative.dev",
          version: "v1",
        }),
        spec("spec/azureFile/secretName", "PersistentVolume"),
      ],
    },
    {
      kind: "Service",
      version: "v1",
      fieldSpecs: [
        spec("spec/serviceName", "StatefulSet", { group: "apps" }),
        spec("spec/rules/http/paths/backend/serviceName", "Ingress"),
        spec("spec/backend/serviceName", "Ingress"),
        spec("spec/rules/http/paths/backend/service/name", "Ingress"),
        spec("spec/defaultBackend/service/name", "Ingress"),
        spec("spec/service/name", "APIService", { group: "apiregistration.k8s.io" }),
        spec("webhooks/clientConfig/service", "ValidatingWebhookConfiguration", {
          group: "admissionregistration.k8s.io",
        }),
        spec("webhooks/clientConfig/service", "MutatingWebhookConfiguration", {
          group: "admissionregistration.k8s.io",
        }),
        spec("spec/rules/backendRefs/name", "HTTPRoute"),
      ],
    },
    {
      kind: "Role",
      group: "rbac.authorization.k8s.io",
      fieldSpecs: [spec("roleRef/name", "RoleBinding", { group: "rbac.authorization.k8s.io" })],
    },
    {
      kind: "ClusterRole",
      group: "rbac.authorization.k8s.io",
      fieldSpecs: [
        spec("roleRef/name", "RoleBinding", { group: "rbac.authorization.k8s.io" }),
        spec("roleRef/name", "ClusterRoleBinding", { group: "rbac.authorization.k8s.io" }),
      ],
    },
    {
      kind: "ServiceAccount",
      version: "v1",
      fieldSpecs: [
        spec("subjects", "RoleBinding", { group: "rbac.authorization.k8s.io" }),
        spec("subjects", "ClusterRoleBinding", { group: "rbac.authorization.k8s.io" }),
        ...serviceAccountKinds.map(([kind, prefix]) => spec(`${prefix}/serviceAccountName`, kind)),
      ],
    },
    {
      kind: "PersistentVolumeClaim",
      version: "v1",
      fieldSpecs: serviceAccountKinds.map(([kind, prefix]) =>
        spec(`${prefix}/volumes/persistentVolumeClaim/claimName`, kind),
      ),
    },
    {
      kind: "PersistentVolume",
      version: "v1",
      fieldSpecs: [spec("spec/volumeName", "PersistentVolumeClaim"), spec("rules/resourceNames", "ClusterRole")],
    },
    {
      kind: "StorageClass",
      version: "v1",
      group: "storage.k8s.io",
      fieldSpecs: [
        spec("spec/storageClassName", "PersistentVolume"),
        spec("spec/storageClassName", "PersistentVolumeClaim"),
        spec("spec/volumeClaimTemplates/spec/storageClassName", "StatefulSet"),
      ],
    },
    {
      kind: "PriorityClass",
      version: "v1",
      group: "scheduling.k8s.io",
      fieldSpecs: serviceAccountKinds.map(([kind, prefix]) => spec(`${prefix}/priorityClassName`, kind)),
    },
    // kustomize lists IngressClass → Ingress spec/ingressClassName with group "networking.k8s.io/v1",
    // a group no object has, so kubectl never rewrites ingressClassName: neither do we.
    {
      kind: "ValidatingAdmissionPolicy",
      group: "admissionregistration.k8s.io",
      fieldSpecs: [
        spec("spec/policyName", "ValidatingAdmissionPolicyBinding", { group: "admissionregistration.k8s.io" }),
      ],
    },
  ];
}

/** Template label paths (pod templates and job templates): where `includeTemplates` puts labels. */
export function templateLabelSpecs(): FieldSpec[] {
  return TEMPLATE_METADATA.map(([kind, prefix]) => spec(`${prefix}/labels`, kind, { create: true }));
}

/** Where commonAnnotations go besides metadata/annotations. */
export function templateAnnotationSpecs(): FieldSpec[] {
  return TEMPLATE_METADATA.map(([kind, prefix]) => spec(`${prefix}/annotations`, kind, { create: true }));
}

/** Selector paths that commonLabels / `labels.includeSelectors` also set. */
export function selectorLabelSpecs(): FieldSpec[] {
  const affinity = (kind: string) =>
    [
      "spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
      "spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
      "spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
      "spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
      "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels",
    ].map((p) => spec(p, kind, { group: "apps", create: false }));
  return [
    spec("spec/selector", "Service", { version: "v1", create: true }),
    spec("spec/selector", "ReplicationController", { version: "v1", create: true }),
    spec("spec/selector/matchLabels", "Deployment", { create: true }),
    ...affinity("Deployment"),
    spec("spec/selector/matchLabels", "ReplicaSet", { create: true }),
    spec("spec/selector/matchLabels", "DaemonSet", { create: true }),
    spec("spec/selector/matchLabels", "StatefulSet", { group: "apps", create: true }),
    spec("spec/volumeClaimTemplates[]/metadata/labels", "StatefulSet", { group: "apps", create: true }),
    ...affinity("StatefulSet"),
    spec("spec/selector/matchLabels", "Job", { group: "batch", create: false }),
    spec("spec/jobTemplate/spec/selector/matchLabels", "CronJob", { group: "batch", create: false }),
    spec("spec/selector/matchLabels", "PodDisruptionBudget", { group: "policy", create: false }),
    spec("spec/podSelector/matchLabels", "NetworkPolicy", { group: "networking.k8s.io", create: false }),
    spec("spec/ingress/from/podSelector/matchLabels", "NetworkPolicy", { group: "networking.k8s.io", create: false }),
    spec("spec/egress/to/podSelector/matchLabels", "NetworkPolicy", { group: "networking.k8s.io", create: false }),
  ];
}

/** Where images live: every container list of a pod spec. */
export function imageSpecs(): FieldSpec[] {
  const out: FieldSpec[] = [];
  for (const list of ["containers", "initContainers"]) {
    out.push(spec(`spec/${list}[]/image`, undefined, { create: false }));
    out.push(spec(`spec/template/spec/${list}[]/image`, undefined, { create: false }));
    out.push(spec(`spec/jobTemplate/spec/template/spec/${list}[]/image`, undefined, { create: false }));
    out.push(spec(`template/spec/${list}[]/image`, undefined, { create: false }));
  }
  return out;
}

/** Where replica counts live. */
export function replicaSpecs(): FieldSpec[] {
  return [
    spec("spec/replicas", "Deployment", { create: true }),
    spec("spec/replicas", "ReplicationController", { create: true }),
    spec("spec/replicas", "ReplicaSet", { create: true }),
    spec("spec/replicas", "StatefulSet", { create: true }),
  ];
}

/** Fields that may hold `$(VAR)` references: kustomize's varReference defaults, exactly (its quirks included). */
export function varReferenceSpecs(): FieldSpec[] {
  const containerFields = ["args", "command", "env/value", "volumeMounts/mountPath"];
  const inPod = (kind: string, podSpec: string, nfsServer: string): FieldSpec[] => [
    ...["containers", "initContainers"].flatMap((c) => containerFields.map((f) => spec(`${podSpec}/${c}/${f}`, kind))),
    spec(nfsServer, kind),
  ];
  return [
    // kustomize's CronJob entry reads volumes one level too high, and its StatefulSet entry reads volumeClaimTemplates.
    ...inPod("CronJob", "spec/jobTemplate/spec/template/spec", "spec/jobTemplate/spec/template/volumes/nfs/server"),
    ...inPod("DaemonSet", "spec/template/spec", "spec/template/spec/volumes/nfs/server"),
    ...inPod("Deployment", "spec/template/spec", "spec/template/spec/volumes/nfs/server"),
    spec("spec/template/metadata/annotations", "Deployment"),
    spec("spec/rules/host", "Ingress"),
    spec("spec/tls/hosts", "Ingress"),
    spec("spec/tls/secretName", "Ingress"),
    ...inPod("Job", "spec/template/spec", "spec/template/spec/volumes/nfs/server"),
    ...inPod("Pod", "spec", "spec/volumes/nfs/server"),
    ...inPod("ReplicaSet", "spec/template/spec", "spec/template/spec/volumes/nfs/server"),
    spec("spec/ports/port", "Service"),
    spec("spec/ports/targetPort", "Service"),
    ...inPod("StatefulSet", "spec/template/spec", "spec/volumeClaimTemplates/spec/nfs/server"),
    spec("spec/nfs/server", "PersistentVolume"),
    spec("metadata/labels"),
    spec("metadata/annotations"),
  ];
}

/** Kinds that are cluster-scoped (kustomize's list from the built-in OpenAPI schema). */
/** The built-in cluster-scoped kinds, each with its API group(s): a CRD's kind of the same name in another group is namespaced. */
const CLUSTER_SCOPED: ReadonlyMap<string, readonly string[]> = new Map([
  ["APIService", ["apiregistration.k8s.io"]],
  ["CertificateSigningRequest", ["certificates.k8s.io"]],
  ["ClusterRole", ["rbac.authorization.k8s.io"]],
  ["ClusterRoleBinding", ["rbac.authorization.k8s.io"]],
  ["ComponentStatus", [""]],
  ["CSIDriver", ["storage.k8s.io"]],
  ["CSINode", ["storage.k8s.io"]],
  ["CustomResourceDefinition", ["apiextensions.k8s.io"]],
  ["FlowSchema", ["flowcontrol.apiserver.k8s.io"]],
  ["IngressClass", ["networking.k8s.io"]],
  ["MutatingWebhookConfiguration", ["admissionregistration.k8s.io"]],
  ["Namespace", [""]],
  ["Node", [""]],
  ["PersistentVolume", [""]],
  ["PodSecurityPolicy", ["policy", "extensions"]],
  ["PriorityClass", ["scheduling.k8s.io"]],
  ["PriorityLevelConfiguration", ["flowcontrol.apiserver.k8s.io"]],
  ["RuntimeClass", ["node.k8s.io"]],
  ["SelfSubjectAccessReview", ["authorization.k8s.io"]],
  ["SelfSubjectRulesReview", ["authorization.k8s.io"]],
  ["StorageClass", ["storage.k8s.io"]],
  ["SubjectAccessReview", ["authorization.k8s.io"]],
  ["TokenReview", ["authentication.k8s.io"]],
  ["ValidatingAdmissionPolicy", ["admissionregistration.k8s.io"]],
  ["ValidatingAdmissionPolicyBinding", ["admissionregistration.k8s.io"]],
  ["ValidatingWebhookConfiguration", ["admissionregistration.k8s.io"]],
  ["VolumeAttachment", ["storage.k8s.io"]],
]);

export const CLUSTER_SCOPED_KINDS: ReadonlySet<string> = new Set(CLUSTER_SCOPED.keys());

/**
 * Whether an object is cluster-scoped: a built-in cluster-scoped kind in its own API group (as
 * kustomize looks the GVK up in its schema), or a kind a CRD declared cluster-scoped. Without an
 * apiVersion (a kind named alone) the kind decides.
 */
export function isClusterScoped(obj: KubeObject, extraClusterScoped?: ReadonlySet<string>): boolean {
  if (extraClusterScoped?.has(obj.kind)) return true;
  const groups = CLUSTER_SCOPED.get(obj.kind);
  if (!groups) return false;
  if (!obj.apiVersion) return true;
  const slash = obj.apiVersion.indexOf("/");
  return groups.includes(slash < 0 ? "" : obj.apiVersion.slice(0, slash));
}
