import { InvalidInputError } from "../core/errors.js";
import {
  GIT_REPOSITORY_API_VERSION,
  KUSTOMIZATION_API_VERSION,
  type GitRepository,
  type Kustomization,
  type KustomizationPatch,
  type KustomizationSpec,
} from "../core/flux.js";
import { isPlainObject, type KubeObject } from "../core/object.js";
import { legacyPatches } from "../render/index.js";

const SOURCE_VERSIONS = [
  "source.toolkit.fluxcd.io/v1",
  "source.toolkit.fluxcd.io/v1beta2",
  "source.toolkit.fluxcd.io/v1beta1",
];
const KUSTOMIZE_VERSIONS = [
  "kustomize.toolkit.fluxcd.io/v1",
  "kustomize.toolkit.fluxcd.io/v1beta2",
  "kustomize.toolkit.fluxcd.io/v1beta1",
];

export function isGitRepository(o: KubeObject): boolean {
  return o.kind === "GitRepository" && SOURCE_VERSIONS.includes(o.apiVersion);
}

export function isKustomization(o: KubeObject): boolean {
  return o.kind === "Kustomization" && KUSTOMIZE_VERSIONS.includes(o.apiVersion);
}

/** A GitRepository of any served version, as `v1`. */
export function normalizeGitRepository(o: KubeObject, file: string): GitRepository {
  const spec = (isPlainObject(o.spec) ? { ...o.spec } : {}) as Record<string, unknown>;
  const where = { file, object: `GitRepository/${o.metadata.namespace ?? ""}/${o.metadata.name ?? ""}` };
  if (typeof spec.url !== "string")
    throw new InvalidInputError("spec.url is required", { ...where, field: "spec.url" });
  delete spec.gitImplementation;
  delete spec.accessFrom;
  return {
    apiVersion: GIT_REPOSITORY_API_VERSION,
    kind: "GitRepository",
    metadata: { name: o.metadata.name ?? "", namespace: o.metadata.namespace ?? "flux-system" },
    spec: spec as unknown as GitRepository["spec"],
  };
}

/**
 * A Kustomization of any served version, as `v1`: v1beta1/v1beta2 `patchesStrategicMerge` and
 * `patchesJson6902` become `patches`, removed fields (`validation`) are dropped, `prune` defaults off.
 */
export function normalizeKustomization(o: KubeObject, file: string): Kustomization {
  const where = { file, object: `Kustomization/${o.metadata.namespace ?? ""}/${o.metadata.name ?? ""}` };
  const spec = (isPlainObject(o.spec) ? { ...o.spec } : {}) as Record<string, unknown>;
  if (!isPlainObject(spec.sourceRef))
    throw new InvalidInputError("spec.sourceRef is required", { ...where, field: "spec.sourceRef" });
  const patches: KustomizationPatch[] = [
    ...(Array.isArray(spec.patches) ? (spec.patches as KustomizationPatch[]) : []),
    ...legacyPatches(spec as Pick<KustomizationSpec, "patchesStrategicMerge" | "patchesJson6902">),
  ];
  delete spec.patchesStrategicMerge;
  delete spec.patchesJson6902;
  delete spec.validation;
  if (patches.length) spec.patches = patches;
  spec.prune = spec.prune === true;
  if (typeof spec.interval !== "string")
    throw new InvalidInputError("spec.interval is required", { ...where, field: "spec.interval" });
  return {
    apiVersion: KUSTOMIZATION_API_VERSION,
    kind: "Kustomization",
    metadata: { name: o.metadata.name ?? "", namespace: o.metadata.namespace ?? "flux-system" },
    spec: spec as unknown as Kustomization["spec"],
  };
}
