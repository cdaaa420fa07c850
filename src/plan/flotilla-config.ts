import { InvalidInputError } from "../core/errors.js";
import { isPlainObject } from "../core/object.js";
import { parseYamlDocument } from "../core/yaml.js";
import { parseRolloutSpec, parseWindows, type RolloutSpec, type WindowSpec } from "../rollout/index.js";

/** `flotilla.yaml` at the repository root: everything optional; the README documents the schema. */
export interface FlotillaConfig {
  sources: {
    url?: string;
    /** Unset: the repository's default branch (`main`, else `master`). */
    main: { branch?: string };
    release?: { tag?: string; semver?: string };
  };
  /** Which source each environment follows (default: `prod` → release, others → main). */
  environments: Record<string, { source?: "main" | "release"; features?: FeatureSelection }>;
  clusters: Record<string, { features?: FeatureSelection }>;
  features: { default: "all" | "none" };
  management: { provider?: string; features: Array<{ name: string; source: "main" | "release" }> };
  defaults: { interval: string; prune: boolean; wait: boolean; timeout: string; retryInterval?: string };
  /** Waves per environment (`rollouts.prod.waves`); an environment without one changes all its clusters at once. */
  rollouts: Record<string, RolloutSpec>;
  /** Maintenance windows of the clusters their selectors match (every cluster without one). */
  windows: WindowSpec[];
}

export interface FeatureSelection {
  include?: string[];
  exclude?: string[];
}

export const CONFIG_FILE = "flotilla.yaml";

export function defaultConfig(): FlotillaConfig {
  return {
    sources: { main: {} },
    environments: {},
    clusters: {},
    features: { default: "all" },
    management: { features: [] },
    defaults: { interval: "10m", prune: true, wait: false, timeout: "5m" },
    rollouts: {},
    windows: [],
  };
}

type Path = string;
const fail = (message: string, field: Path): never => {
  throw new InvalidInputError(message, { file: CONFIG_FILE, field });
};
const checkKeys = (value: Record<string, unknown>, allowed: string[], field: Path): void => {
  for (const key of Object.keys(value))
    if (!allowed.includes(key))
      fail(`unknown key '${key}' (known: ${allowed.join(", ")})`, field ? `${field}.${key}` : key);
};
const map = (value: unknown, field: Path): Record<string, unknown> =>
  isPlainObject(value) ? value : fail("must be a map", field);
const str = (value: unknown, field: Path): string =>
  typeof value === "string" && value !== "" ? value : fail("must be a non-empty string", field);
const bool = (value: unknown, field: Path): boolean =>
  typeof value === "boolean" ? value : fail("must be true or false", field);
const strings = (value: unknown, field: Path): string[] =>
  Array.isArray(value) ? value.map((v, i) => str(v, `${field}[${i}]`)) : fail("must be a list of strings", field);

function selection(value: unknown, field: Path): FeatureSelection {
  const m = map(value, field);
  checkKeys(m, ["include", "exclude"], field);
  const out: FeatureSelection = {};
  if (m.include !== undefined) out.include = strings(m.include, `${field}.include`);
  if (m.exclude !== undefined) out.exclude = strings(m.exclude, `${field}.exclude`);
  return out;
}

/** Parses and validates `flotilla.yaml`; every error names the key (`environments.prod.source`). */
export function parseFlotillaConfig(text: string | undefined): FlotillaConfig {
  const config = defaultConfig();
  if (text === undefined) return config;
  const raw = parseYamlDocument(text, CONFIG_FILE);
  if (raw === null) return config;
  const root = map(raw, "");
  checkKeys(
    root,
    ["sources", "environments", "clusters", "features", "management", "defaults", "rollouts", "windows"],
    "",
  );

  if (root.sources !== undefined) {
    const s = map(root.sources, "sources");
    checkKeys(s, ["url", "main", "release"], "sources");
    if (s.url !== undefined) config.sources.url = str(s.url, "sources.url");
    if (s.main !== undefined) {
      const m = map(s.main, "sources.main");
      checkKeys(m, ["branch"], "sources.main");
      config.sources.main.branch = str(m.branch, "sources.main.branch");
    }
    if (s.release !== undefined) {
      const r = map(s.release, "sources.release");
      checkKeys(r, ["tag", "semver"], "sources.release");
      if (r.tag === undefined && r.semver === undefined) fail("needs tag or semver", "sources.release");
      if (r.tag !== undefined && r.semver !== undefined) fail("give tag or semver, not both", "sources.release");
      config.sources.release =
        r.tag !== undefined
          ? { tag: str(r.tag, "sources.release.tag") }
          : { semver: str(r.semver, "sources.release.semver") };
    }
  }
  if (root.environments !== undefined) {
    for (const [env, v] of Object.entries(map(root.environments, "environments"))) {
      const field = `environments.${env}`;
      const e = map(v ?? {}, field);
      checkKeys(e, ["source", "features"], field);
      const entry: FlotillaConfig["environments"][string] = {};
      if (e.source !== undefined) {
        if (e.source !== "main" && e.source !== "release")
          fail(`must be main or release, not '${String(e.source)}'`, `${field}.source`);
        entry.source = e.source as "main" | "release";
      }
      if (e.features !== undefined) entry.features = selection(e.features, `${field}.features`);
      config.environments[env] = entry;
    }
  }
  if (root.clusters !== undefined) {
    for (const [cluster, v] of Object.entries(map(root.clusters, "clusters"))) {
      const field = `clusters.${cluster}`;
      const c = map(v ?? {}, field);
      checkKeys(c, ["features"], field);
      config.clusters[cluster] =
        c.features !== undefined ? { features: selection(c.features, `${field}.features`) } : {};
    }
  }
  if (root.features !== undefined) {
    const f = map(root.features, "features");
    checkKeys(f, ["default"], "features");
    if (f.default !== undefined) {
      if (f.default !== "all" && f.default !== "none")
        fail(`must be all or none, not '${String(f.default)}'`, "features.default");
      config.features.default = f.default as "all" | "none";
    }
  }
  if (root.management !== undefined) {
    const m = map(root.management, "management");
    checkKeys(m, ["provider", "features"], "management");
    if (m.provider !== undefined) config.management.provider = str(m.provider, "management.provider");
    if (m.features !== undefined) {
      if (!Array.isArray(m.features)) fail("must be a list", "management.features");
      config.management.features = (m.features as unknown[]).map((f, i) => {
        const field = `management.features[${i}]`;
        if (typeof f === "string") return { name: f, source: "main" as const };
        const e = map(f, field);
        checkKeys(e, ["name", "source"], field);
        const source = e.source ?? "main";
        if (source !== "main" && source !== "release")
          fail(`must be main or release, not '${String(source)}'`, `${field}.source`);
        return { name: str(e.name, `${field}.name`), source: source as "main" | "release" };
      });
    }
  }
  if (root.defaults !== undefined) {
    const d = map(root.defaults, "defaults");
    checkKeys(d, ["interval", "prune", "wait", "timeout", "retryInterval"], "defaults");
    if (d.interval !== undefined) config.defaults.interval = str(d.interval, "defaults.interval");
    if (d.timeout !== undefined) config.defaults.timeout = str(d.timeout, "defaults.timeout");
    if (d.retryInterval !== undefined) config.defaults.retryInterval = str(d.retryInterval, "defaults.retryInterval");
    if (d.prune !== undefined) config.defaults.prune = bool(d.prune, "defaults.prune");
    if (d.wait !== undefined) config.defaults.wait = bool(d.wait, "defaults.wait");
  }
  if (root.rollouts !== undefined) {
    for (const [env, v] of Object.entries(map(root.rollouts, "rollouts")))
      config.rollouts[env] = parseRolloutSpec(v, { file: CONFIG_FILE }, `rollouts.${env}`);
  }
  if (root.windows !== undefined) config.windows = parseWindows(root.windows, { file: CONFIG_FILE }, "windows");
  return config;
}
