import { posix } from "node:path";
import type { KustomizationFile } from "./kustomization-file.js";
import type { Resource, TransformationStep } from "./resource.js";

/** kustomize's annotation for `buildMetadata: [transformerAnnotations]`. */
export const TRANSFORMATIONS_ANNOTATION = "alpha.config.kubernetes.io/transformations";

/**
 * The built-in transformers a kustomization's own fields configure, in the order kustomize runs
 * them: one per patch, labels entry, replicas entry and image; one for all strategic merge patch
 * files, the namespace, the prefix, the suffix, commonLabels, commonAnnotations and replacements.
 */
export function fieldTransformations(k: KustomizationFile, file: string): TransformationStep[] {
  const steps: TransformationStep[] = [];
  const add = (kind: string, times = 1) => {
    for (let i = 0; i < times; i++) steps.push({ file, apiVersion: "builtin", kind });
  };
  if (k.patchesStrategicMerge.length > 0) add("PatchStrategicMergeTransformer");
  add("PatchTransformer", k.patches.length);
  if (k.namespace) add("NamespaceTransformer");
  if (k.namePrefix) add("PrefixTransformer");
  if (k.nameSuffix) add("SuffixTransformer");
  if (k.commonLabels && Object.keys(k.commonLabels).length > 0) add("LabelTransformer");
  add("LabelTransformer", k.labels.length);
  if (k.commonAnnotations && Object.keys(k.commonAnnotations).length > 0) add("AnnotationsTransformer");
  add("PatchJson6902Transformer", k.patchesJson6902.length);
  add("ReplicaCountTransformer", k.replicas.length);
  add("ImageTagTransformer", k.images.length);
  if (k.replacements.length > 0) add("ReplacementTransformer");
  return steps;
}

/** Records that every object present at the end of a kustomization level went through `steps`. */
export function recordTransformations(resources: readonly Resource[], steps: TransformationStep[]): void {
  if (steps.length === 0) return;
  for (const res of resources) (res.transformations ??= []).push(steps);
}

/** The annotation text kustomize writes: each step's `configuredIn` is relative to the top kustomization folder. */
export function transformationsText(res: Resource, root: string): string | undefined {
  let text = "";
  for (const level of res.transformations ?? []) {
    for (const step of level) {
      text += `- configuredIn: ${posix.relative(root || ".", step.file)}\n  configuredBy:\n    apiVersion: ${step.apiVersion}\n    kind: ${step.kind}\n`;
      if (step.name) text += `    name: ${step.name}\n`;
      if (step.namespace) text += `    namespace: ${step.namespace}\n`;
    }
  }
  return text || undefined;
}
