import { InvalidInputError } from "../core/errors.js";
import type { PatchTarget } from "../core/flux.js";
import { isPlainObject } from "../core/object.js";
import { parseYamlDocument } from "../core/yaml.js";

/** The names a kustomization file may have, in the order kustomize looks for them. */
export const KUSTOMIZATION_FILE_NAMES = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/** kustomize's patch target (selector), shared with Flux's Kustomization spec. */
export type { PatchTarget } from "../core/flux.js";

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
  // kubectl reads a kustomization file leniently: a key given twice takes its last value.
  const raw = parseYamlDocument(text, file, { lastKeyWins: true });
  if (raw === null) return emptyKustomization();
  if (!isPlainObject(raw)) throw new InvalidInputError("a kustomization must be a YAML map", { file });
  const doc = canonicalFields(raw, file);
  const read = fieldReader(doc, file);
  const kind = kindOf(doc, file);
  refuseHelm(doc, file);
  const out: KustomizationFile = {
    kind,
    resources: [...read.strings("resources"), ...read.strings("bases")],
    components: read.strings("components"),
    labels: readLabels(read),
    patchesStrategicMerge: readPatchesStrategicMerge(read),
    patches: readPatchList(read, "patches"),
    patchesJson6902: readPatchList(read, "patchesJson6902"),
    images: readImages(read),
    replicas: readReplicas(read),
    configMapGenerator: read.list<GeneratorArgs>("configMapGenerator"),
    secretGenerator: read.list<GeneratorArgs>("secretGenerator"),
    replacements: read.list<Record<string, unknown>>("replacements"),
    vars: read.list("vars"),
    configurations: read.strings("configurations"),
    crds: read.strings("crds"),
    transformers: read.strings("transformers"),
    generators: read.strings("generators"),
    validators: read.strings("validators"),
    buildMetadata: read.strings("buildMetadata"),
  };
  return withOptionalFields(out, doc, read);
}

/** The fields under their canonical names (Go's JSON decoding matches names ignoring case); an unknown one is an error. */
function canonicalFields(raw: Record<string, unknown>, file: string): Record<string, unknown> {
  const doc: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const canonical = CANONICAL.get(key.toLowerCase());
    if (!canonical) throw new InvalidInputError(`unknown field '${key}'`, { file, field: key });
    doc[canonical] = value;
  }
  return doc;
}

/** Typed access to a kustomization's fields; a wrong type is an error naming the field. */
interface FieldReader {
  where(name: string): { file: string; field: string };
  strings(name: string): string[];
  stringMap(name: string): Record<string, string> | undefined;
  list<T>(name: string): T[];
  str(name: string): string | undefined;
  value(name: string): unknown;
}

function fieldReader(doc: Record<string, unknown>, file: string): FieldReader {
  const where = (name: string) => ({ file, field: name });
  const present = (name: string) => doc[name] !== undefined && doc[name] !== null;
  return {
    where,
    value: (name) => doc[name],
    strings(name) {
      const v = doc[name];
      if (!present(name)) return [];
      if (!Array.isArray(v) || v.some((x) => typeof x !== "string"))
        throw new InvalidInputError("must be a list of strings", where(name));
      return v as string[];
    },
    stringMap(name) {
      const v = doc[name];
      if (!present(name)) return undefined;
      if (!isPlainObject(v)) throw new InvalidInputError("must be a map of strings", where(name));
      const out: Record<string, string> = {};
      for (const [k, x] of Object.entries(v)) {
        // As kustomize's Go types: a number or boolean where a string belongs is an error (quote it).
        if (x !== null && typeof x !== "string")
          throw new InvalidInputError(
            `must be a string, not the ${typeof x} ${String(x)}: quote it`,
            where(`${name}.${k}`),
          );
        out[k] = x === null ? "" : x;
      }
      return out;
    },
    list<T>(name: string): T[] {
      const v = doc[name];
      if (!present(name)) return [];
      if (!Array.isArray(v)) throw new InvalidInputError("must be a list", where(name));
      return v as T[];
    },
    str(name) {
      const v = doc[name];
      if (!present(name)) return undefined;
      if (typeof v !== "string") throw new InvalidInputError("must be a string", where(name));
      return v;
    },
  };
}

const KUSTOMIZATION_VERSION = "kustomize.config.k8s.io/v1beta1";
const COMPONENT_VERSION = "kustomize.config.k8s.io/v1alpha1";

/** Kustomization (the default) or Component, each with its own apiVersion when one is given (kustomize's EnforceFields). */
function kindOf(doc: Record<string, unknown>, file: string): KustomizationFile["kind"] {
  const kind = doc.kind === undefined || doc.kind === null || doc.kind === "" ? "Kustomization" : doc.kind;
  if (kind !== "Kustomization" && kind !== "Component") {
    throw new InvalidInputError(`kind must be Kustomization or Component, not '${String(kind)}'`, {
      file,
      field: "kind",
    });
  }
  const required = kind === "Component" ? COMPONENT_VERSION : KUSTOMIZATION_VERSION;
  if (doc.apiVersion !== undefined && doc.apiVersion !== null && doc.apiVersion !== "" && doc.apiVersion !== required) {
    throw new InvalidInputError(`apiVersion for ${kind} should be ${required}, not '${String(doc.apiVersion)}'`, {
      file,
      field: "apiVersion",
    });
  }
  return kind;
}

function refuseHelm(doc: Record<string, unknown>, file: string): void {
  if (doc.helmCharts !== undefined || doc.helmChartInflationGenerator !== undefined) {
    throw new InvalidInputError(
      "helm charts need the helm executable, which Flotilla does not run; render the chart into YAML first",
      {
        file,
        field: "helmCharts",
      },
    );
  }
}

function readPatchesStrategicMerge(read: FieldReader): string[] {
  return read.list<unknown>("patchesStrategicMerge").map((p, i) => {
    if (typeof p !== "string")
      throw new InvalidInputError("must be a file path or an inline patch", read.where(`patchesStrategicMerge[${i}]`));
    return p;
  });
}

function readPatchList(read: FieldReader, name: string): PatchEntry[] {
  return read.list<unknown>(name).map((p, i) => {
    if (!isPlainObject(p)) throw new InvalidInputError("must be a map with path or patch", read.where(`${name}[${i}]`));
    if (p.path === undefined && p.patch === undefined)
      throw new InvalidInputError("needs either 'path' or 'patch'", read.where(`${name}[${i}]`));
    if (p.path !== undefined && p.patch !== undefined)
      throw new InvalidInputError("has both 'path' and 'patch'; give one", read.where(`${name}[${i}]`));
    return p as PatchEntry;
  });
}

function readImages(read: FieldReader): KustomizationFile["images"] {
  return [...read.list<Record<string, unknown>>("images"), ...read.list<Record<string, unknown>>("imageTags")].map(
    (img, i) => {
      if (!isPlainObject(img) || typeof img.name !== "string")
        throw new InvalidInputError("each image needs a name", read.where(`images[${i}].name`));
      for (const key of ["newName", "newTag", "digest", "tagSuffix"]) {
        const x = img[key];
        if (x !== undefined && x !== null && typeof x !== "string")
          throw new InvalidInputError(
            `must be a string, not the ${typeof x} ${String(x)}: quote it`,
            read.where(`images[${i}].${key}`),
          );
      }
      return img as KustomizationFile["images"][number];
    },
  );
}

function readReplicas(read: FieldReader): KustomizationFile["replicas"] {
  return read.list<Record<string, unknown>>("replicas").map((r, i) => {
    if (!isPlainObject(r) || typeof r.name !== "string")
      throw new InvalidInputError("needs a name", read.where(`replicas[${i}].name`));
    if (typeof r.count !== "number" || !Number.isInteger(r.count))
      throw new InvalidInputError("count must be a whole number", read.where(`replicas[${i}].count`));
    return { name: r.name, count: r.count };
  });
}

function readLabels(read: FieldReader): LabelEntry[] {
  return read.list<Record<string, unknown>>("labels").map((l, i) => {
    if (!isPlainObject(l)) throw new InvalidInputError("must be a map", read.where(`labels[${i}]`));
    return l as LabelEntry;
  });
}

/** sortOptions as kustomize validates it: order is fifo or legacy, and legacySortOptions only with legacy. */
function readSortOptions(read: FieldReader): KustomizationFile["sortOptions"] {
  const sortOptions = read.value("sortOptions");
  if (sortOptions === undefined || sortOptions === null) return undefined;
  if (!isPlainObject(sortOptions)) throw new InvalidInputError("must be a map", read.where("sortOptions"));
  const { order, legacySortOptions } = sortOptions;
  if (order !== "legacy" && order !== "fifo") {
    throw new InvalidInputError(
      `order must be one of [fifo, legacy], not '${String(order ?? "")}'`,
      read.where("sortOptions.order"),
    );
  }
  if (legacySortOptions !== undefined && legacySortOptions !== null && order !== "legacy") {
    throw new InvalidInputError(
      `legacySortOptions is set but the sort order is '${order}', not 'legacy'`,
      read.where("sortOptions.legacySortOptions"),
    );
  }
  return sortOptions as KustomizationFile["sortOptions"];
}

/** The fields that stay absent unless the file sets them. */
function withOptionalFields(
  out: KustomizationFile,
  doc: Record<string, unknown>,
  read: FieldReader,
): KustomizationFile {
  const namespace = read.str("namespace");
  if (namespace !== undefined) out.namespace = namespace;
  const namePrefix = read.str("namePrefix");
  if (namePrefix !== undefined) out.namePrefix = namePrefix;
  const nameSuffix = read.str("nameSuffix");
  if (nameSuffix !== undefined) out.nameSuffix = nameSuffix;
  const commonLabels = read.stringMap("commonLabels");
  if (commonLabels) out.commonLabels = commonLabels;
  const commonAnnotations = read.stringMap("commonAnnotations");
  if (commonAnnotations) out.commonAnnotations = commonAnnotations;
  if (isPlainObject(doc.generatorOptions)) out.generatorOptions = doc.generatorOptions as GeneratorOptions;
  if (isPlainObject(doc.openapi)) out.openapi = doc.openapi;
  const sortOptions = readSortOptions(read);
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
