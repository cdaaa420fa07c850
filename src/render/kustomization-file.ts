import { InvalidInputError } from "../core/errors.js";
import { isPlainObject } from "../core/object.js";
import { parseYamlDocument } from "../core/yaml.js";

/** The names a kustomization file may have, in the order kustomize looks for them. */
export const KUSTOMIZATION_FILE_NAMES = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

export interface PatchTarget {
  group?: string;
  version?: string;
  kind?: string;
  name?: string;
  namespace?: string;
  labelSelector?: string;
  annotationSelector?: string;
}

export interface PatchEntry {
  path?: string;
  patch?: string;
  target?: PatchTarget;
  options?: { allowNameChange?: boolean; allowKindChange?: boolean };
}

export interface GeneratorArgs {
  name?: string;
  namespace?: string;
  behavior?: "create" | "merge" | "replace";
  files?: string[];
  literals?: string[];
  envs?: string[];
  env?: string;
  type?: string;
  options?: GeneratorOptions;
}

export interface GeneratorOptions {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  disableNameSuffixHash?: boolean;
  immutable?: boolean;
}

export interface LabelEntry {
  pairs?: Record<string, string>;
  includeSelectors?: boolean;
  includeTemplates?: boolean;
  fields?: Array<Record<string, unknown>>;
}

/** A kustomization file after kustomize's normalisation (legacy fields folded into current ones). */
export interface KustomizationFile {
  kind: "Kustomization" | "Component";
  resources: string[];
  components: string[];
  namespace?: string;
  namePrefix?: string;
  nameSuffix?: string;
  commonLabels?: Record<string, string>;
  labels: LabelEntry[];
  commonAnnotations?: Record<string, string>;
  patchesStrategicMerge: string[];
  patches: PatchEntry[];
  patchesJson6902: PatchEntry[];
  images: Array<{ name: string; newName?: string; newTag?: string; digest?: string; tagSuffix?: string }>;
  replicas: Array<{ name: string; count: number }>;
  configMapGenerator: GeneratorArgs[];
  secretGenerator: GeneratorArgs[];
  generatorOptions?: GeneratorOptions;
  replacements: Array<Record<string, unknown>>;
  vars: Array<{ name: string; objref: Record<string, string>; fieldref?: { fieldpath?: string } }>;
  configurations: string[];
  crds: string[];
  transformers: string[];
  generators: string[];
  validators: string[];
  openapi?: Record<string, unknown>;
  sortOptions?: { order?: "legacy" | "fifo"; legacySortOptions?: { orderFirst?: string[]; orderLast?: string[] } };
  buildMetadata: string[];
  helmCharts?: unknown;
}

// Every field kustomize knows, by its lower-cased name (Go's JSON decoding matches names ignoring case).
const FIELDS = [
  "apiVersion",
  "kind",
  "metadata",
  "resources",
  "bases",
  "components",
  "namespace",
  "namePrefix",
  "nameSuffix",
  "commonLabels",
  "labels",
  "commonAnnotations",
  "patchesStrategicMerge",
  "patches",
  "patchesJson6902",
  "images",
  "imageTags",
  "replicas",
  "configMapGenerator",
  "secretGenerator",
  "generatorOptions",
  "replacements",
  "vars",
  "configurations",
  "crds",
  "transformers",
  "generators",
  "validators",
  "openapi",
  "sortOptions",
  "buildMetadata",
  "helmCharts",
  "helmGlobals",
  "helmChartInflationGenerator",
];
const CANONICAL = new Map(FIELDS.map((f) => [f.toLowerCase(), f]));

/** Reads and normalises a kustomization file; unknown fields and wrong types are errors naming the field. */
export function parseKustomizationFile(text: string, file: string): KustomizationFile {
  const raw = parseYamlDocument(text, file);
  if (raw === null) return emptyKustomization();
  if (!isPlainObject(raw)) throw new InvalidInputError("a kustomization must be a YAML map", { file });
  const doc: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const canonical = CANONICAL.get(key.toLowerCase());
    if (!canonical) throw new InvalidInputError(`unknown field '${key}'`, { file, field: key });
    doc[canonical] = value;
  }
  const field = (name: string) => ({ file, field: name });
  const strings = (name: string): string[] => {
    const v = doc[name];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) throw new InvalidInputError("must be a list of strings", field(name));
    return v as string[];
  };
  const stringMap = (name: string): Record<string, string> | undefined => {
    const v = doc[name];
    if (v === undefined || v === null) return undefined;
    if (!isPlainObject(v)) throw new InvalidInputError("must be a map of strings", field(name));
    const out: Record<string, string> = {};
    for (const [k, x] of Object.entries(v)) {
      // As kustomize's Go types: a number or boolean where a string belongs is an error (quote it).
      if (x !== null && typeof x !== "string") throw new InvalidInputError(`must be a string, not the ${typeof x} ${String(x)}: quote it`, field(`${name}.${k}`));
      out[k] = x === null ? "" : x;
    }
    return out;
  };
  const list = <T>(name: string): T[] => {
    const v = doc[name];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) throw new InvalidInputError("must be a list", field(name));
    return v as T[];
  };
  const str = (name: string): string | undefined => {
    const v = doc[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "string") throw new InvalidInputError("must be a string", field(name));
    return v;
  };

  const kind = doc.kind === undefined ? "Kustomization" : doc.kind;
  if (kind !== "Kustomization" && kind !== "Component") {
    throw new InvalidInputError(`kind must be Kustomization or Component, not '${String(kind)}'`, field("kind"));
  }
  if (doc.helmCharts !== undefined || doc.helmChartInflationGenerator !== undefined) {
    throw new InvalidInputError("helm charts need the helm executable, which Flotilla does not run; render the chart into YAML first", field("helmCharts"));
  }

  const patchesStrategicMerge = list<unknown>("patchesStrategicMerge").map((p, i) => {
    if (typeof p !== "string") throw new InvalidInputError("must be a file path or an inline patch", field(`patchesStrategicMerge[${i}]`));
    return p;
  });
  const patchList = (name: string): PatchEntry[] =>
    list<unknown>(name).map((p, i) => {
      if (!isPlainObject(p)) throw new InvalidInputError("must be a map with path or patch", field(`${name}[${i}]`));
      if (p.path === undefined && p.patch === undefined) throw new InvalidInputError("needs either 'path' or 'patch'", field(`${name}[${i}]`));
      if (p.path !== undefined && p.patch !== undefined) throw new InvalidInputError("has both 'path' and 'patch'; give one", field(`${name}[${i}]`));
      return p as PatchEntry;
    });

  const images = [...list<Record<string, unknown>>("images"), ...list<Record<string, unknown>>("imageTags")].map((img, i) => {
    if (!isPlainObject(img) || typeof img.name !== "string") throw new InvalidInputError("each image needs a name", field(`images[${i}].name`));
    for (const key of ["newName", "newTag", "digest", "tagSuffix"]) {
      const x = img[key];
      if (x !== undefined && x !== null && typeof x !== "string") throw new InvalidInputError(`must be a string, not the ${typeof x} ${String(x)}: quote it`, field(`images[${i}].${key}`));
    }
    return img as KustomizationFile["images"][number];
  });
  const replicas = list<Record<string, unknown>>("replicas").map((r, i) => {
    if (!isPlainObject(r) || typeof r.name !== "string") throw new InvalidInputError("needs a name", field(`replicas[${i}].name`));
    if (typeof r.count !== "number" || !Number.isInteger(r.count)) throw new InvalidInputError("count must be a whole number", field(`replicas[${i}].count`));
    return { name: r.name, count: r.count };
  });
  const labels = list<Record<string, unknown>>("labels").map((l, i) => {
    if (!isPlainObject(l)) throw new InvalidInputError("must be a map", field(`labels[${i}]`));
    return l as LabelEntry;
  });
  const sortOptions = doc.sortOptions as KustomizationFile["sortOptions"];
  if (sortOptions?.order !== undefined && sortOptions.order !== "legacy" && sortOptions.order !== "fifo") {
    throw new InvalidInputError(`order must be legacy or fifo, not '${String(sortOptions.order)}'`, field("sortOptions.order"));
  }

  const out: KustomizationFile = {
    kind,
    resources: [...strings("resources"), ...strings("bases")],
    components: strings("components"),
    labels,
    patchesStrategicMerge,
    patches: patchList("patches"),
    patchesJson6902: patchList("patchesJson6902"),
    images,
    replicas,
    configMapGenerator: list<GeneratorArgs>("configMapGenerator"),
    secretGenerator: list<GeneratorArgs>("secretGenerator"),
    replacements: list<Record<string, unknown>>("replacements"),
    vars: list("vars"),
    configurations: strings("configurations"),
    crds: strings("crds"),
    transformers: strings("transformers"),
    generators: strings("generators"),
    validators: strings("validators"),
    buildMetadata: strings("buildMetadata"),
  };
  const namespace = str("namespace");
  if (namespace !== undefined) out.namespace = namespace;
  const namePrefix = str("namePrefix");
  if (namePrefix !== undefined) out.namePrefix = namePrefix;
  const nameSuffix = str("nameSuffix");
  if (nameSuffix !== undefined) out.nameSuffix = nameSuffix;
  const commonLabels = stringMap("commonLabels");
  if (commonLabels) out.commonLabels = commonLabels;
  const commonAnnotations = stringMap("commonAnnotations");
  if (commonAnnotations) out.commonAnnotations = commonAnnotations;
  if (isPlainObject(doc.generatorOptions)) out.generatorOptions = doc.generatorOptions as GeneratorOptions;
  if (isPlainObject(doc.openapi)) out.openapi = doc.openapi;
  if (sortOptions) out.sortOptions = sortOptions;
  return out;
}

export function emptyKustomization(): KustomizationFile {
  return {
    kind: "Kustomization",
    resources: [],
    components: [],
    labels: [],
    patchesStrategicMerge: [],
    patches: [],
    patchesJson6902: [],
    images: [],
    replicas: [],
    configMapGenerator: [],
    secretGenerator: [],
    replacements: [],
    vars: [],
    configurations: [],
    crds: [],
    transformers: [],
    generators: [],
    validators: [],
    buildMetadata: [],
  };
}
