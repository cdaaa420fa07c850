import type { KubeObject, ObjectMeta } from "./object.js";

/**
 * The Flux API objects Flotilla serves and produces (`source.toolkit.fluxcd.io/v1`,
 * `kustomize.toolkit.fluxcd.io/v1`), as plain data.
 */
export const SOURCE_GROUP = "source.toolkit.fluxcd.io";
export const KUSTOMIZE_GROUP = "kustomize.toolkit.fluxcd.io";
export const GIT_REPOSITORY_API_VERSION = `${SOURCE_GROUP}/v1`;
export const KUSTOMIZATION_API_VERSION = `${KUSTOMIZE_GROUP}/v1`;

/** Labels and annotations Flux sets or reads on applied objects. */
export const LABEL_OWNER_NAME = `${KUSTOMIZE_GROUP}/name`;
export const LABEL_OWNER_NAMESPACE = `${KUSTOMIZE_GROUP}/namespace`;
export const ANNOTATION_PRUNE = `${KUSTOMIZE_GROUP}/prune`;
export const ANNOTATION_RECONCILE = `${KUSTOMIZE_GROUP}/reconcile`;
export const ANNOTATION_SUBSTITUTE = `${KUSTOMIZE_GROUP}/substitute`;
export const ANNOTATION_FORCE = `${KUSTOMIZE_GROUP}/force`;
export const FIELD_MANAGER = "flotilla";

export interface GitRepositoryRef {
  branch?: string;
  tag?: string;
  semver?: string;
  name?: string;
  commit?: string;
}

export interface LocalObjectReference {
  name: string;
}

export interface GitRepositorySpec {
  url: string;
  ref?: GitRepositoryRef;
  interval?: string;
  timeout?: string;
  secretRef?: LocalObjectReference;
  ignore?: string;
  suspend?: boolean;
}

export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface GitRepository extends KubeObject {
  apiVersion: typeof GIT_REPOSITORY_API_VERSION | string;
  kind: "GitRepository";
  metadata: ObjectMeta & { name: string; namespace: string };
  spec: GitRepositorySpec;
  status?: {
    conditions?: Condition[];
    artifact?: { revision: string; digest?: string; lastUpdateTime?: string; path?: string; url?: string };
    observedGeneration?: number;
  };
}

export interface CrossNamespaceSourceReference {
  kind: string;
  name: string;
  namespace?: string;
  apiVersion?: string;
}

export interface DependencyReference {
  name: string;
  namespace?: string;
}

/** Which objects a patch applies to: kustomize's selector, which Flux's `spec.patches[].target` is too. */
export interface PatchTarget {
  group?: string;
  version?: string;
  kind?: string;
  name?: string;
  namespace?: string;
  labelSelector?: string;
  annotationSelector?: string;
}

export interface KustomizationPatch {
  patch: string;
  target?: PatchTarget;
}

export interface KustomizationImage {
  name: string;
  newName?: string;
  newTag?: string;
  digest?: string;
}

export interface SubstituteReference {
  kind: "ConfigMap" | "Secret";
  name: string;
  optional?: boolean;
}

export interface KustomizationSpec {
  sourceRef: CrossNamespaceSourceReference;
  path?: string;
  interval: string;
  retryInterval?: string;
  timeout?: string;
  prune: boolean;
  wait?: boolean;
  force?: boolean;
  suspend?: boolean;
  dependsOn?: DependencyReference[];
  targetNamespace?: string;
  namePrefix?: string;
  nameSuffix?: string;
  patches?: KustomizationPatch[];
  /** v1beta1/v1beta2 only (gone in v1), still on objects written in those versions: strategic-merge patches, as objects. */
  patchesStrategicMerge?: unknown[];
  /** v1beta1/v1beta2 only: JSON 6902 patches (a list of operations) with their target. */
  patchesJson6902?: Array<{ target?: KustomizationPatch["target"]; patch?: unknown }>;
  images?: KustomizationImage[];
  components?: string[];
  commonMetadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  postBuild?: { substitute?: Record<string, string>; substituteFrom?: SubstituteReference[] };
  healthChecks?: { apiVersion?: string; kind: string; name: string; namespace?: string }[];
  kubeConfig?: { secretRef: { name: string; key?: string } };
  serviceAccountName?: string;
  decryption?: { provider: string; secretRef?: LocalObjectReference };
}

export interface InventoryEntry {
  /** `<namespace>_<name>_<group>_<kind>` */
  id: string;
  /** The object's API version. */
  v: string;
}

export interface Kustomization extends KubeObject {
  apiVersion: typeof KUSTOMIZATION_API_VERSION | string;
  kind: "Kustomization";
  metadata: ObjectMeta & { name: string; namespace: string };
  spec: KustomizationSpec;
  status?: {
    conditions?: Condition[];
    lastAppliedRevision?: string;
    lastAttemptedRevision?: string;
    observedGeneration?: number;
    inventory?: { entries: InventoryEntry[] };
    /** What the last full reconcile read and rendered (Flotilla's addition; see UnitInputs). */
    inputs?: UnitInputs;
  };
}

/**
 * `status.inputs` of a Kustomization: the revision these digests were taken at, a digest of the
 * unit's inputs (spec, identity, target kubeconfig, substitutions with their `substituteFrom` data,
 * and the content of every file and folder its render read) and a digest of the render's output.
 * Both are HMAC-SHA256 keyed per controller process, so they reveal nothing about Secret data.
 */
export interface UnitInputs {
  revision: string;
  digest: string;
  outputDigest: string;
}

/**
 * The `namespace/name` that a reference held by an object names (`dependsOn`, `sourceRef`, a
 * Rollout's source); without a namespace, the holder's own, as in Flux.
 */
export function referenceKey(
  holder: { metadata: { namespace?: string } },
  ref: { name: string; namespace?: string },
): string {
  return `${ref.namespace ?? holder.metadata.namespace ?? ""}/${ref.name}`;
}

/** The `namespace/name` of the unit a `dependsOn` entry names (see referenceKey). */
export function dependencyKey(unit: Pick<Kustomization, "metadata">, dep: DependencyReference): string {
  return referenceKey(unit, dep);
}

/**
 * The kubeconfig that a unit's `spec.kubeConfig.secretRef` selects from its Secret's data: `key`
 * when given, else `value`, then `value.yaml` (Flux's order). Undefined when that key is absent.
 */
export function kubeconfigOfSecret(ref: { key?: string }, data: Readonly<Record<string, string>>): string | undefined {
  return ref.key ? data[ref.key] : (data.value ?? data["value.yaml"]);
}

/** The cluster a unit targets: its kubeconfig Secret's cluster, or the management cluster. */
export function clusterOfUnit(k: Pick<Kustomization, "spec">): string {
  const secret = k.spec.kubeConfig?.secretRef.name;
  return secret ? secret.replace(/-kubeconfig$/, "") : "mgmt";
}
