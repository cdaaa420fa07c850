import { InvalidInputError, NotFoundError } from "../core/errors.js";
import type { FileTree } from "../core/file-tree.js";
import type { KustomizationImage, KustomizationPatch, KustomizationSpec } from "../core/flux.js";
import type { KubeObject } from "../core/object.js";
import { toYaml } from "../core/yaml.js";
import { buildTarget, finishBuild, loadKustomization, newBuildState } from "./build.js";
import type { KustomizationFile } from "./kustomization-file.js";
import { substituteObject } from "./substitute.js";

export interface RenderOptions {
  /** Flux `postBuild.substitute` variables; when given, substitution runs (strict). */
  substitute?: Record<string, string>;
  /** Refuse a folder without a kustomization file, as `kubectl kustomize` does (Flux renders its YAML files). */
  kustomizationRequired?: boolean;
}

/** The parts of a Flux Kustomization's spec that kustomize-controller folds into the build. */
export interface FluxBuildSpec {
  targetNamespace?: string;
  namePrefix?: string;
  nameSuffix?: string;
  patches?: KustomizationPatch[];
  images?: KustomizationImage[];
  components?: string[];
  commonMetadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  substitute?: Record<string, string>;
}

/**
 * Renders the folder `path` of `tree` as `kubectl kustomize` would (or, without a kustomization
 * file, as Flux does: every YAML file below it), then applies Flux substitution when asked.
 * Never half-succeeds: any problem throws a FlotillaError naming the file and field.
 */
export function render(tree: FileTree, path: string, options: RenderOptions = {}): KubeObject[] {
  return renderFlux(
    tree,
    path,
    options.substitute ? { substitute: options.substitute } : {},
    options.kustomizationRequired !== true,
  );
}

/**
 * Renders a path with a Flux Kustomization's spec folded into its kustomization, the way
 * kustomize-controller does: `targetNamespace`, `namePrefix`/`nameSuffix`, `patches`, `images`,
 * `components` and `commonMetadata` (labels without selectors), then `postBuild` substitution.
 */
export function renderFlux(tree: FileTree, path: string, spec: FluxBuildSpec, allowPlainFolder = true): KubeObject[] {
  const dir = path
    .replace(/^\.?\/+/, "")
    .replace(/\/+$/, "")
    .replace(/^\.$/, "");
  const kind = tree.kind(dir);
  if (kind === undefined) throw new NotFoundError(`path '${path}' does not exist in ${tree.label}`, { file: path });
  if (kind !== "dir") throw new InvalidInputError(`path '${path}' is a file; render takes a folder`, { file: path });
  const { k, file } = loadKustomization(tree, dir, allowPlainFolder);
  const overlaid = withFluxSpec(k, spec);
  const state = newBuildState(tree);
  const resources = buildTarget(dir, overlaid, file, state);
  const objects = finishBuild(resources, overlaid, state, dir);
  if (!spec.substitute) return objects;
  return objects.map((o) => substituteObject(o, spec.substitute!, file));
}

function withFluxSpec(k: KustomizationFile, spec: FluxBuildSpec): KustomizationFile {
  const out: KustomizationFile = { ...k };
  if (spec.targetNamespace) out.namespace = spec.targetNamespace;
  if (spec.namePrefix) out.namePrefix = spec.namePrefix;
  if (spec.nameSuffix) out.nameSuffix = spec.nameSuffix;
  if (spec.patches?.length)
    out.patches = [
      ...k.patches,
      ...spec.patches.map((p) => ({ patch: p.patch, ...(p.target ? { target: p.target } : {}) })),
    ];
  if (spec.images?.length) out.images = [...k.images, ...spec.images];
  if (spec.components?.length) out.components = [...k.components, ...spec.components];
  if (spec.commonMetadata?.labels)
    out.labels = [...k.labels, { pairs: spec.commonMetadata.labels, includeSelectors: false }];
  if (spec.commonMetadata?.annotations)
    out.commonAnnotations = { ...k.commonAnnotations, ...spec.commonMetadata.annotations };
  return out;
}

/**
 * A v1beta1/v1beta2 Kustomization's `patchesStrategicMerge` and `patchesJson6902` as v1 `patches`,
 * in that order after `patches`. Objects applied in those versions keep the fields (the served
 * versions share one schema, nothing converts them), and Flux's controller of those versions applied them.
 */
export function legacyPatches(
  s: Pick<KustomizationSpec, "patchesStrategicMerge" | "patchesJson6902">,
): KustomizationPatch[] {
  const out: KustomizationPatch[] = [];
  for (const p of Array.isArray(s.patchesStrategicMerge) ? s.patchesStrategicMerge : []) out.push({ patch: toYaml(p) });
  for (const p of Array.isArray(s.patchesJson6902) ? s.patchesJson6902 : [])
    out.push({ patch: toYaml(p.patch ?? []), ...(p.target ? { target: p.target } : {}) });
  return out;
}

/** The build options of a Kustomization's spec; `postBuild.substitute` only (substituteFrom needs the cluster). */
export function fluxBuildSpecOf(s: KustomizationSpec): FluxBuildSpec {
  const spec: FluxBuildSpec = {};
  if (s.targetNamespace) spec.targetNamespace = s.targetNamespace;
  if (s.namePrefix) spec.namePrefix = s.namePrefix;
  if (s.nameSuffix) spec.nameSuffix = s.nameSuffix;
  const patches = [...(s.patches ?? []), ...legacyPatches(s)];
  if (patches.length) spec.patches = patches;
  if (s.images?.length) spec.images = s.images;
  if (s.components?.length) spec.components = s.components;
  if (s.commonMetadata) spec.commonMetadata = s.commonMetadata;
  if (s.postBuild?.substitute) spec.substitute = s.postBuild.substitute;
  return spec;
}
export { DEFAULT_RENDER_LIMITS, type RenderLimits } from "./limits.js";
