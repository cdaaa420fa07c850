import { describeError, InvalidInputError, NotFoundError } from "../core/errors.js";
import type { FileTree } from "../core/file-tree.js";
import {
  GIT_REPOSITORY_API_VERSION,
  KUSTOMIZATION_API_VERSION,
  referenceKey,
  type GitRepository,
  type Kustomization,
  type KustomizationSpec,
} from "../core/flux.js";
import { groupOf, objectKey, type KubeObject } from "../core/object.js";
import { fluxBuildSpecOf, type FluxBuildSpec } from "../render/index.js";
import { inferDependencies } from "./dependencies.js";
import { CONFIG_FILE, parseFlotillaConfig, type FeatureSelection, type FlotillaConfig } from "./flotilla-config.js";
import { isGitRepository, isKustomization, normalizeGitRepository, normalizeKustomization } from "./flux-objects.js";
import { readLayout, type Layout } from "./layout.js";
import { overlappingObjects } from "./overlaps.js";
import { rolloutManifest, type RolloutObject } from "../rollout/index.js";

export type RenderFn = (tree: FileTree, path: string, spec: FluxBuildSpec) => KubeObject[];

export const FLUX_NAMESPACE = "flux-system";
/** Labels the plan puts on its units so tools can tell environment and cluster apart. */
export const LABEL_ENVIRONMENT = "flotilla.dev/environment";
export const LABEL_CLUSTER = "flotilla.dev/cluster";

export interface Sources {
  mode: "convention" | "flux";
  config: FlotillaConfig;
  layout: Layout;
  gitRepositories: GitRepository[];
  /** Flux-compatible mode: the Kustomizations found under `mgmt`. */
  kustomizations: Kustomization[];
  warnings: string[];
}

export interface PlanResult {
  mode: "convention" | "flux";
  objects: Array<GitRepository | Kustomization>;
  /** Convention mode: one Rollout per environment of flotilla.yaml `rollouts` (Flux mode writes its own). */
  rollouts: RolloutObject[];
  warnings: string[];
  /**
   * What could not be planned while the rest was: units whose path does not render (malformed YAML,
   * a missing file, a duplicate object), which stay in the plan — the controller reports the same
   * error on each, and the other units go on — without inferred dependencies; and the clusters of
   * an environment whose source does not exist (prod before the first release tag), left out.
   */
  errors: PlanError[];
}

/** One thing the plan could not do, with the error (file, object, field). */
export interface PlanError {
  /** `namespace/name` of the unit, or `namespace/*` for all of a cluster's units. */
  unit: string;
  path: string;
  /** What happened, after the unit and path: `does not render: …`, `not planned: …`. */
  message: string;
}

/**
 * First half of planning, from the `main` tree alone: the layout, `flotilla.yaml`, and the sources
 * the fleet follows — in Flux-compatible mode the GitRepository objects under `mgmt`, otherwise
 * `main` (`sources.main.branch`, else `defaultBranch`: the repository's `main` or `master`) and
 * (when any environment follows it) `release`. The caller then fetches each source's
 * tree and calls `planFleet`.
 */
export function discoverSources(
  main: FileTree,
  opts: { repoUrl?: string; releaseTag?: string; defaultBranch?: string; render: RenderFn },
): Sources {
  const config = parseFlotillaConfig(main.kind(CONFIG_FILE) === "file" ? main.readText(CONFIG_FILE) : undefined);
  const layout = readLayout(main);
  const warnings: string[] = [];
  const gitRepositories: GitRepository[] = [];
  const kustomizations: Kustomization[] = [];
  for (const p of layout.providers) {
    if (!p.hasMgmt) continue;
    for (const o of opts.render(main, `${p.path}/mgmt`, {})) {
      const file = `${p.path}/mgmt`;
      if (isGitRepository(o)) gitRepositories.push(normalizeGitRepository(o, file));
      else if (isKustomization(o)) kustomizations.push(normalizeKustomization(o, file));
    }
  }
  if (kustomizations.length > 0 || gitRepositories.length > 0) {
    return { mode: "flux", config, layout, gitRepositories, kustomizations, warnings };
  }
  const url = config.sources.url ?? opts.repoUrl;
  if (!url)
    throw new InvalidInputError("the repository URL is unknown: set sources.url in flotilla.yaml or pass --repo", {
      file: CONFIG_FILE,
      field: "sources.url",
    });
  gitRepositories.push(
    gitRepository("main", url, { branch: config.sources.main.branch ?? opts.defaultBranch ?? "main" }),
  );
  const release = config.sources.release ?? (opts.releaseTag ? { tag: opts.releaseTag } : undefined);
  if (release) gitRepositories.push(gitRepository("release", url, release));
  return { mode: "convention", config, layout, gitRepositories, kustomizations, warnings };
}

function gitRepository(name: string, url: string, ref: GitRepository["spec"]["ref"]): GitRepository {
  return {
    apiVersion: GIT_REPOSITORY_API_VERSION,
    kind: "GitRepository",
    metadata: { name, namespace: FLUX_NAMESPACE },
    spec: { url, ref: ref!, interval: "1m" },
  };
}

/**
 * The fleet's desired Flux objects: GitRepositories and Kustomizations, sorted by namespace and
 * name, with inferred dependencies. `trees` holds each GitRepository's tree by name. Pure: the
 * same input gives the same output.
 */
export function planFleet(
  sources: Sources,
  trees: Readonly<Record<string, FileTree>>,
  opts: { render: RenderFn; inferDependencies?: boolean },
): PlanResult {
  const warnings = [...sources.warnings];
  const errors: PlanError[] = [];
  const units =
    sources.mode === "flux"
      ? fluxUnits(sources, trees)
      : conventionUnits(sources, trees, opts.render, warnings, errors);
  if (opts.inferDependencies !== false) {
    const renders = new Map<string, KubeObject[]>();
    const cache = new Map<string, KubeObject[] | { error: string }>();
    for (const u of units) {
      const tree = trees[u.spec.sourceRef.name];
      const unit = objectKey(u);
      if (!tree) continue;
      const spec = fluxBuildSpecOf({ ...u.spec, postBuild: undefined } as KustomizationSpec);
      const cacheKey = `${u.spec.sourceRef.name}\u0000${u.spec.path ?? ""}\u0000${JSON.stringify(spec)}`;
      let rendered = cache.get(cacheKey);
      if (!rendered)
        cache.set(cacheKey, (rendered = renderOrError(() => opts.render(tree, cleanPath(u.spec.path), spec))));
      if (Array.isArray(rendered)) renders.set(unit, rendered);
      else errors.push({ unit, path: `./${cleanPath(u.spec.path)}`, message: `does not render: ${rendered.error}` });
    }
    inferDependencies(units, renders);
    warnings.push(...overlappingObjects(units, renders));
  }
  const objects = [...sources.gitRepositories, ...units].sort(
    (a, b) =>
      a.metadata.namespace.localeCompare(b.metadata.namespace) ||
      a.kind.localeCompare(b.kind) ||
      a.metadata.name.localeCompare(b.metadata.name),
  );
  return {
    mode: sources.mode,
    objects,
    rollouts: conventionRollouts(sources),
    warnings,
    errors: errors.sort((a, b) => a.unit.localeCompare(b.unit)),
  };
}

/** flotilla.yaml `rollouts.<env>` as Rollout objects over the units labelled with that environment, with the windows. */
function conventionRollouts(sources: Sources): RolloutObject[] {
  if (sources.mode !== "convention") return [];
  return Object.entries(sources.config.rollouts).map(([env, spec]) => {
    const source = sources.config.environments[env]?.source ?? (env === "prod" ? "release" : "main");
    const r = rolloutManifest(
      env,
      FLUX_NAMESPACE,
      { name: source, namespace: FLUX_NAMESPACE },
      spec,
      sources.config.windows,
      {
        [LABEL_ENVIRONMENT]: env,
      },
    );
    r.spec.selector = { matchLabels: { [LABEL_ENVIRONMENT]: env } };
    return r;
  });
}

function renderOrError(render: () => KubeObject[]): KubeObject[] | { error: string } {
  try {
    return render();
  } catch (error) {
    return { error: describeError(error) };
  }
}

/** A Flux path (`./features/x`) as a tree path (`features/x`). */
export function cleanPath(path: string | undefined): string {
  return (path ?? "")
    .replace(/^\.?\/+/, "")
    .replace(/^\.$/, "")
    .replace(/\/+$/, "");
}

function fluxUnits(sources: Sources, trees: Readonly<Record<string, FileTree>>): Kustomization[] {
  const repos = new Map(sources.gitRepositories.map((g) => [objectKey(g), g]));
  return sources.kustomizations.map((k) => {
    const where = { object: `Kustomization/${k.metadata.namespace}/${k.metadata.name}`, field: "spec.sourceRef" };
    const ref = k.spec.sourceRef;
    const repoKey = referenceKey(k, ref);
    if (ref.kind !== "GitRepository" || !repos.has(repoKey)) {
      throw new NotFoundError(`sourceRef ${ref.kind}/${repoKey} names no GitRepository in the repository`, where);
    }
    const tree = trees[ref.name];
    const path = cleanPath(k.spec.path);
    if (tree && path && tree.kind(path) !== "dir") {
      throw new NotFoundError(`path '${k.spec.path}' does not exist in source '${ref.name}'`, {
        ...where,
        field: "spec.path",
      });
    }
    return k;
  });
}

function enabledFeatures(all: string[], config: FlotillaConfig, env: string, cluster: string): string[] {
  const apply = (set: Set<string>, sel: FeatureSelection | undefined) => {
    for (const f of sel?.include ?? []) set.add(f);
    for (const f of sel?.exclude ?? []) set.delete(f);
  };
  const set = new Set(config.features.default === "all" ? all : []);
  apply(set, config.environments[env]?.features);
  apply(set, config.clusters[cluster]?.features);
  return [...set].sort();
}

/** Builds a convention-mode Kustomization with `flotilla.yaml`'s defaults (interval, retryInterval, timeout, prune, wait). */
type UnitFactory = (
  namespace: string,
  name: string,
  source: string,
  path: string,
  labels: Record<string, string>,
  kubeconfig?: string,
) => Kustomization;

/** What convention planning works from: the sources, the trees, and where warnings and per-cluster errors go. */
interface ConventionInput {
  sources: Sources;
  trees: Readonly<Record<string, FileTree>>;
  render: RenderFn;
  warnings: string[];
  errors: PlanError[];
}

/**
 * The units of a convention-mode repository: the management cluster's (its provider's `mgmt` path
 * and `management.features`), then each workload cluster's (`feature-<f>`, `common`, `<cluster>`,
 * `tenants-common`, `tenants-<env>`, each when its folder exists).
 */
function conventionUnits(
  sources: Sources,
  trees: Readonly<Record<string, FileTree>>,
  render: RenderFn,
  warnings: string[],
  errors: PlanError[],
): Kustomization[] {
  const input: ConventionInput = { sources, trees, render, warnings, errors };
  checkFeatureReferences(sources.config, sources.layout);
  const unit = unitFactory(sources.config.defaults);
  const capi = clusterApiClusters(input);
  return [
    ...managementUnits(sources, unit),
    ...sources.layout.clusters.flatMap((c) => workloadUnits(input, c, capi, unit)),
  ];
}

/** Every feature that `flotilla.yaml` names (environments, clusters, management) exists under `features/`. */
function checkFeatureReferences(config: FlotillaConfig, layout: Layout): void {
  const features = new Set(layout.features);
  const checkFeature = (name: string, field: string) => {
    if (!features.has(name))
      throw new NotFoundError(`feature '${name}' does not exist under features/`, { file: CONFIG_FILE, field });
  };
  for (const [env, e] of Object.entries(config.environments)) {
    e.features?.include?.forEach((f, i) => checkFeature(f, `environments.${env}.features.include[${i}]`));
    e.features?.exclude?.forEach((f, i) => checkFeature(f, `environments.${env}.features.exclude[${i}]`));
  }
  for (const [c, e] of Object.entries(config.clusters)) {
    e.features?.include?.forEach((f, i) => checkFeature(f, `clusters.${c}.features.include[${i}]`));
    e.features?.exclude?.forEach((f, i) => checkFeature(f, `clusters.${c}.features.exclude[${i}]`));
  }
  config.management.features.forEach((f, i) => checkFeature(f.name, `management.features[${i}].name`));
}

function unitFactory(d: FlotillaConfig["defaults"]): UnitFactory {
  return (namespace, name, source, path, labels, kubeconfig) => ({
    apiVersion: KUSTOMIZATION_API_VERSION,
    kind: "Kustomization",
    metadata: { name, namespace, ...(Object.keys(labels).length ? { labels } : {}) },
    spec: {
      interval: d.interval,
      ...(d.retryInterval ? { retryInterval: d.retryInterval } : {}),
      timeout: d.timeout,
      prune: d.prune,
      wait: d.wait,
      sourceRef: { kind: "GitRepository", name: source, namespace: FLUX_NAMESPACE },
      path: `./${path}`,
      ...(kubeconfig ? { kubeConfig: { secretRef: { name: kubeconfig } } } : {}),
    },
  });
}

const hasReleaseSource = (sources: Sources) => sources.gitRepositories.some((g) => g.metadata.name === "release");

/** The source an environment follows (`prod` → release, others → main, unless configured); an error when that is a release that does not exist. */
function sourceOfEnvironment(sources: Sources, env: string, folder: string): string {
  const source = sources.config.environments[env]?.source ?? (env === "prod" ? "release" : "main");
  if (source === "release" && !hasReleaseSource(sources)) {
    throw new InvalidInputError(
      `environment '${env}' follows the release source, but there is none: tag a release (vX.Y.Z) or set sources.release in flotilla.yaml`,
      {
        file: folder,
        field: `environments.${env}.source`,
      },
    );
  }
  return source;
}

/**
 * The Cluster API Clusters under the `mgmt` paths, by name, with their namespace (where their
 * kubeconfig Secret is); a Cluster without a cluster folder, or a folder without a Cluster, is a warning.
 */
function clusterApiClusters({ sources, trees, render, warnings }: ConventionInput): Map<string, string> {
  const { layout } = sources;
  const capi = new Map<string, string>();
  for (const p of layout.providers) {
    if (!p.hasMgmt) continue;
    const mgmtObjects = render(trees.main!, `${p.path}/mgmt`, {});
    for (const o of mgmtObjects)
      if (o.kind === "Cluster" && groupOf(o.apiVersion) === "cluster.x-k8s.io" && o.metadata.name)
        capi.set(o.metadata.name, o.metadata.namespace ?? "default");
  }
  for (const name of capi.keys())
    if (!layout.clusters.some((c) => c.name === name))
      warnings.push(`Cluster '${name}' under mgmt has no folder under providers/*/*/clusters/<env>/`);
  for (const c of layout.clusters)
    if (!capi.has(c.name)) warnings.push(`cluster folder ${c.path} has no Cluster API Cluster '${c.name}' under mgmt`);
  return capi;
}

/** The management cluster's units: the `mgmt` path of the provider it runs (each, when not configured), and `management.features`. */
function managementUnits(sources: Sources, unit: UnitFactory): Kustomization[] {
  const { config, layout } = sources;
  const units: Kustomization[] = [];
  const mgmtProviders = layout.providers.filter(
    (p) => p.hasMgmt && (!config.management.provider || `${p.cloud}/${p.version}` === config.management.provider),
  );
  if (config.management.provider && mgmtProviders.length === 0) {
    throw new NotFoundError(`provider '${config.management.provider}' has no mgmt folder`, {
      file: CONFIG_FILE,
      field: "management.provider",
    });
  }
  for (const p of mgmtProviders) {
    const name = mgmtProviders.length === 1 ? "mgmt" : `mgmt-${p.cloud}-${p.version}`;
    units.push(unit(FLUX_NAMESPACE, name, "main", `${p.path}/mgmt`, { [LABEL_CLUSTER]: "mgmt" }));
  }
  for (const f of config.management.features) {
    if (f.source === "release" && !hasReleaseSource(sources))
      throw new InvalidInputError("the release source does not exist", {
        file: CONFIG_FILE,
        field: "management.features",
      });
    units.push(unit(FLUX_NAMESPACE, `feature-${f.name}`, f.source, `features/${f.name}`, { [LABEL_CLUSTER]: "mgmt" }));
  }
  return units;
}

/**
 * One workload cluster's units, each when its folder exists in the source's tree. A cluster whose
 * environment has no source (prod before the first release tag) is left out with its error; the
 * others are planned.
 */
function workloadUnits(
  { sources, trees, errors }: ConventionInput,
  c: Layout["clusters"][number],
  capi: ReadonlyMap<string, string>,
  unit: UnitFactory,
): Kustomization[] {
  let source: string;
  try {
    source = sourceOfEnvironment(sources, c.env, c.path);
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    errors.push({
      unit: `${capi.get(c.name) ?? c.name}/*`,
      path: `./${c.path}`,
      message: `not planned: ${describeError(error)}`,
    });
    return [];
  }
  const tree = trees[source];
  const exists = (path: string) => !tree || tree.kind(path) === "dir";
  const labels = { [LABEL_ENVIRONMENT]: c.env, [LABEL_CLUSTER]: c.name };
  const kubeconfig = `${c.name}-kubeconfig`;
  // The units live beside their Cluster, where Cluster API writes the kubeconfig Secret: namespace `<cluster>`,
  // or the Cluster's own namespace; one shared by several Clusters gets names prefixed `<cluster>-`.
  const namespace = capi.get(c.name) ?? c.name;
  const units: Kustomization[] = [];
  const add = (name: string, path: string) => {
    const unitName = namespace === c.name || name === c.name ? name : `${c.name}-${name}`;
    if (exists(path)) units.push(unit(namespace, unitName, source, path, labels, kubeconfig));
  };
  for (const f of enabledFeatures(sources.layout.features, sources.config, c.env, c.name))
    add(`feature-${f}`, `features/${f}`);
  const providerPath = `providers/${c.cloud}/${c.version}/clusters/${c.env}`;
  add("common", `${providerPath}/common`);
  add(c.name, c.path);
  add("tenants-common", `tenants/${c.cloud}/common`);
  add(`tenants-${c.env}`, `tenants/${c.cloud}/${c.env}`);
  return units;
}
