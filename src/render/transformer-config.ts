import { InvalidInputError } from "../core/errors.js";
import { isPlainObject } from "../core/object.js";
import {
  builtinNameReferences,
  fieldSpecFromConfig,
  imageSpecs,
  replicaSpecs,
  selectorLabelSpecs,
  templateAnnotationSpecs,
  templateLabelSpecs,
  varReferenceSpecs,
  type FieldSpec,
  type NameReference,
} from "./field-specs.js";

/**
 * Which fields each transformer touches: kustomize's built-in field specs plus what the
 * kustomizations' `configurations` files add (custom kinds' name references, var references,
 * label paths and image paths).
 */
export interface TransformerConfig {
  nameReference: NameReference[];
  varReference: FieldSpec[];
  /** Extra paths (beyond metadata/labels) that commonLabels and includeSelectors set. */
  commonLabels: FieldSpec[];
  /** Template label paths (includeTemplates). */
  templateLabels: FieldSpec[];
  /** A configuration's `labels` specs: where every `labels` entry also goes, whatever its include flags. */
  labels: FieldSpec[];
  commonAnnotations: FieldSpec[];
  images: FieldSpec[];
  replicas: FieldSpec[];
  namePrefix: FieldSpec[];
  namespace: FieldSpec[];
}

export function builtinTransformerConfig(): TransformerConfig {
  return {
    nameReference: builtinNameReferences(),
    varReference: varReferenceSpecs(),
    commonLabels: [...selectorLabelSpecs(), ...templateLabelSpecs()],
    templateLabels: templateLabelSpecs(),
    labels: [],
    commonAnnotations: templateAnnotationSpecs(),
    images: imageSpecs(),
    replicas: replicaSpecs(),
    namePrefix: [],
    // kustomize's default namespace field specs beyond metadata/namespace (the Namespace rename is built in).
    namespace: [
      fieldSpecFromConfig({
        path: "spec/service/namespace",
        group: "apiregistration.k8s.io",
        kind: "APIService",
        create: true,
      }),
      fieldSpecFromConfig({
        path: "spec/conversion/webhook/clientConfig/service/namespace",
        group: "apiextensions.k8s.io",
        kind: "CustomResourceDefinition",
      }),
    ],
  };
}

/** Adds a `configurations` file's field specs to `config` (mutates it). */
export function mergeConfiguration(config: TransformerConfig, doc: unknown, file: string): void {
  if (doc === null) return;
  if (!isPlainObject(doc)) throw new InvalidInputError("a transformer configuration must be a map", { file });
  const specs = (key: string): FieldSpec[] => {
    const v = doc[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) throw new InvalidInputError("must be a list of field specs", { file, field: key });
    return v.map((e, i) => {
      if (!isPlainObject(e) || typeof e.path !== "string")
        throw new InvalidInputError("each field spec needs a path", { file, field: `${key}[${i}].path` });
      return fieldSpecFromConfig(e);
    });
  };
  const known = new Set([
    "nameReference",
    "varReference",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "annotations",
    "images",
    "replicas",
    "namePrefix",
    "nameSuffix",
    "namespace",
    "templateLabels",
  ]);
  for (const key of Object.keys(doc))
    if (!known.has(key)) throw new InvalidInputError(`unknown field '${key}'`, { file, field: key });
  const refs = doc.nameReference;
  if (refs !== undefined && refs !== null) {
    if (!Array.isArray(refs)) throw new InvalidInputError("must be a list", { file, field: "nameReference" });
    refs.forEach((r, i) => {
      if (!isPlainObject(r) || typeof r.kind !== "string")
        throw new InvalidInputError("needs a kind", { file, field: `nameReference[${i}].kind` });
      const fieldSpecs = Array.isArray(r.fieldSpecs) ? r.fieldSpecs.filter(isPlainObject).map(fieldSpecFromConfig) : [];
      const existing = config.nameReference.find(
        (n) => n.kind === r.kind && (n.group ?? "") === String(r.group ?? n.group ?? ""),
      );
      if (existing) existing.fieldSpecs.push(...fieldSpecs);
      else {
        const ref: NameReference = { kind: r.kind, fieldSpecs };
        if (typeof r.group === "string") ref.group = r.group;
        if (typeof r.version === "string") ref.version = r.version;
        config.nameReference.push(ref);
      }
    });
  }
  config.varReference.push(...specs("varReference"));
  config.commonLabels.push(...specs("commonLabels"), ...specs("labels"));
  config.labels.push(...specs("labels"));
  config.templateLabels.push(...specs("templateLabels"));
  config.commonAnnotations.push(...specs("commonAnnotations"), ...specs("annotations"));
  config.images.push(...specs("images"));
  config.replicas.push(...specs("replicas"));
  config.namePrefix.push(...specs("namePrefix"), ...specs("nameSuffix"));
  config.namespace.push(...specs("namespace"));
}

export function cloneConfig(c: TransformerConfig): TransformerConfig {
  return {
    nameReference: c.nameReference.map((n) => ({ ...n, fieldSpecs: [...n.fieldSpecs] })),
    varReference: [...c.varReference],
    commonLabels: [...c.commonLabels],
    templateLabels: [...c.templateLabels],
    labels: [...c.labels],
    commonAnnotations: [...c.commonAnnotations],
    images: [...c.images],
    replicas: [...c.replicas],
    namePrefix: [...c.namePrefix],
    namespace: [...c.namespace],
  };
}
