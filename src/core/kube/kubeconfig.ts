import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, isAbsolute, join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
// client-node's kubeconfig model alone: its KubeConfig class loads the whole generated API client
// (about 87 MiB of RSS), so it is imported only when a kubeconfig needs it (see kubeConfigOf).
import {
  newClusters,
  newContexts,
  newUsers,
  type Cluster,
  type Context,
  type User,
} from "@kubernetes/client-node/dist/config_types.js";
import { InvalidInputError, NotFoundError, RefusedError, type ErrorLocation } from "../errors.js";
import { isPlainObject } from "../object.js";
import { parseYamlDocument } from "../yaml.js";

/** Where a kubeconfig came from, which decides what it may do and how errors name it. */
export type KubeconfigOrigin =
  /** A file on disk (`--kubeconfig`, `$KUBECONFIG`, `~/.kube/config`): file paths and exec plugins work. */
  | { kind: "file"; file: string }
  /** A Secret written by whoever may write Secrets (`<cluster>-kubeconfig`): no file paths, exec only if allowed. */
  | { kind: "secret"; secret: string }
  /** The pod's service account. */
  | { kind: "in-cluster" }
  /** Text produced by Flotilla itself (local control planes), trusted like a file. */
  | { kind: "generated"; name: string };

/**
 * A kubeconfig read into client-node's model (its `newClusters`/`newUsers`/`newContexts`, what
 * `KubeConfig.loadFromString` uses), with its current context resolved, plus the user fields
 * client-node does not model (`tokenFile`, `as-groups`, `as-uid`, `as-user-extra`).
 */
export interface LoadedKubeconfig {
  readonly clusters: Cluster[];
  readonly users: User[];
  readonly contexts: Context[];
  readonly origin: KubeconfigOrigin;
  readonly context: Context;
  readonly cluster: Cluster;
  readonly user: User;
  /** The current user's raw `user:` map, for the fields client-node drops. */
  readonly rawUser: Record<string, unknown>;
}

export interface LoadOptions {
  /** Use this context instead of `current-context`. */
  context?: string;
  /**
   * Allow a Secret's kubeconfig to run an exec credential plugin (or an auth provider's
   * `cmd-path`). Refused by default: running a binary a Secret names is a privilege decision, as
   * Flux's `--insecure-kubeconfig-exec` is. Files on disk may always.
   */
  allowExec?: boolean;
}

/** How an origin is named in messages. */
export function describeOrigin(origin: KubeconfigOrigin): string {
  switch (origin.kind) {
    case "file":
      return `kubeconfig ${origin.file}`;
    case "secret":
      return `kubeconfig Secret ${origin.secret}`;
    case "in-cluster":
      return "in-cluster service account";
    case "generated":
      return `kubeconfig of ${origin.name}`;
  }
}

function locationOf(origin: KubeconfigOrigin, field?: string): ErrorLocation {
  const where: ErrorLocation =
    origin.kind === "file"
      ? { file: origin.file }
      : origin.kind === "secret"
        ? { object: `Secret/${origin.secret}` }
        : {};
  return field ? { ...where, field } : where;
}

interface RawKubeconfig {
  clusters: Array<Record<string, unknown>>;
  users: Array<Record<string, unknown>>;
  contexts: Array<Record<string, unknown>>;
  currentContext: string | undefined;
}

/** Parses kubeconfig text with Flotilla's YAML reader (alias limits, clear errors). */
function parseRaw(text: string, origin: KubeconfigOrigin): RawKubeconfig {
  const name = origin.kind === "file" ? origin.file : describeOrigin(origin);
  const doc = parseYamlDocument(text, name);
  if (!isPlainObject(doc)) throw new InvalidInputError("a kubeconfig must be a YAML map", locationOf(origin));
  const list = (key: string): Array<Record<string, unknown>> => {
    const value = doc[key];
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value) || !value.every(isPlainObject))
      throw new InvalidInputError(`'${key}' must be a list of maps`, locationOf(origin, key));
    return value as Array<Record<string, unknown>>;
  };
  const current = doc["current-context"];
  return {
    clusters: list("clusters"),
    users: list("users"),
    contexts: list("contexts"),
    currentContext: typeof current === "string" && current ? current : undefined,
  };
}

/**
 * Merges kubeconfigs as kubectl merges a `KUBECONFIG` list: the first file to define a cluster,
 * user or context by name wins, and `current-context` comes from the first file that sets it.
 * (client-node's `loadFromDefault` lets later files override the context and throws on duplicates.)
 */
function mergeRaw(parts: RawKubeconfig[]): RawKubeconfig {
  const firstByName = (key: "clusters" | "users" | "contexts") => {
    const seen = new Map<string, Record<string, unknown>>();
    for (const p of parts)
      for (const entry of p[key])
        if (typeof entry.name === "string" && !seen.has(entry.name)) seen.set(entry.name, entry);
    return [...seen.values()];
  };
  return {
    clusters: firstByName("clusters"),
    users: firstByName("users"),
    contexts: firstByName("contexts"),
    currentContext: parts.find((p) => p.currentContext)?.currentContext,
  };
}

/** Rewrites a file's relative paths against its folder, as kubectl resolves them. */
function absolutePaths(raw: RawKubeconfig, folder: string): RawKubeconfig {
  const fix = (map: unknown, keys: string[]) => {
    if (!isPlainObject(map)) return map;
    const out: Record<string, unknown> = { ...map };
    for (const k of keys)
      if (typeof out[k] === "string" && out[k] && !isAbsolute(out[k] as string))
        out[k] = join(folder, out[k] as string);
    return out;
  };
  return {
    ...raw,
    clusters: raw.clusters.map((c) => ({ ...c, cluster: fix(c.cluster, ["certificate-authority"]) })),
    users: raw.users.map((u) => {
      const user = fix(u.user, ["client-certificate", "client-key", "tokenFile"]);
      // An exec command with a path separator is relative to the kubeconfig (client-go does this too).
      if (
        isPlainObject(user) &&
        isPlainObject(user.exec) &&
        typeof user.exec.command === "string" &&
        user.exec.command.includes("/")
      ) {
        user.exec = fix(user.exec, ["command"]);
      }
      return { ...u, user };
    }),
  };
}

const FILE_FIELDS: Array<{ on: "cluster" | "user"; key: string }> = [
  { on: "cluster", key: "certificate-authority" },
  { on: "user", key: "client-certificate" },
  { on: "user", key: "client-key" },
  { on: "user", key: "tokenFile" },
  { on: "user", key: "token-file" },
];

/** What a Secret's kubeconfig may not do: read the controller's files, or run a binary unless allowed. */
function checkSecretPolicy(loaded: LoadedKubeconfig, rawCluster: Record<string, unknown>, allowExec: boolean): void {
  const origin = loaded.origin;
  const userName = loaded.user.name;
  for (const f of FILE_FIELDS) {
    const map = f.on === "cluster" ? rawCluster : loaded.rawUser;
    if (typeof map[f.key] === "string" && map[f.key]) {
      const owner = f.on === "cluster" ? `clusters[${loaded.cluster.name}]` : `users[${userName}]`;
      throw new RefusedError(
        `${describeOrigin(origin)}: ${f.on} '${f.on === "cluster" ? loaded.cluster.name : userName}' reads a file (${f.key}); a kubeconfig in a Secret must carry its data inline (${f.key === "tokenFile" || f.key === "token-file" ? "token" : `${f.key}-data`}), as Flux requires`,
        locationOf(origin, `${owner}.${f.key}`),
      );
    }
  }
  const provider = loaded.rawUser["auth-provider"];
  const config = isPlainObject(provider) && isPlainObject(provider.config) ? provider.config : {};
  if (typeof config.tokenFile === "string") {
    throw new RefusedError(
      `${describeOrigin(origin)}: user '${userName}' reads a file (auth-provider.config.tokenFile); a kubeconfig in a Secret must carry its data inline`,
      locationOf(origin, `users[${userName}].auth-provider.config.tokenFile`),
    );
  }
  if (allowExec) return;
  const exec = loaded.rawUser.exec;
  const command = isPlainObject(exec)
    ? String(exec.command ?? "")
    : typeof config["cmd-path"] === "string"
      ? config["cmd-path"]
      : undefined;
  if (command !== undefined) {
    const field = isPlainObject(exec) ? "exec.command" : "auth-provider.config.cmd-path";
    throw new RefusedError(
      `${describeOrigin(origin)}: user '${userName}' runs a credential plugin ('${command}'); running a program named by a Secret is refused unless the controller is started with --allow-exec-kubeconfigs`,
      locationOf(origin, `users[${userName}].${field}`),
    );
  }
}

/** client-node reads a user's `token-file` (not a kubeconfig field; client-go's is `tokenFile`) while loading: Flotilla reads token files itself, when used. */
function withoutTokenFileRead(entry: Record<string, unknown>): Record<string, unknown> {
  if (!isPlainObject(entry.user) || !("token-file" in entry.user)) return entry;
  const { "token-file": file, ...user } = entry.user;
  return {
    ...entry,
    user: { ...user, ...(user.tokenFile === undefined && typeof file === "string" ? { tokenFile: file } : {}) },
  };
}

/**
 * client-node's KubeConfig for the current context, loaded on demand: the connection asks for it
 * only for what it does not do itself (auth providers such as oidc, and proxy-url).
 */
export async function kubeConfigOf(loaded: LoadedKubeconfig): Promise<KubeConfig> {
  const { KubeConfig } = await import("@kubernetes/client-node");
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: loaded.clusters,
    users: loaded.users,
    contexts: loaded.contexts,
    currentContext: loaded.context.name,
  });
  return config;
}

/** Builds client-node's model from parsed entries and resolves the context to use. */
function load(raw: RawKubeconfig, origin: KubeconfigOrigin, options: LoadOptions): LoadedKubeconfig {
  let clusters: Cluster[];
  let users: User[];
  let contexts: Context[];
  try {
    clusters = newClusters(raw.clusters);
    users = newUsers(raw.users.map(withoutTokenFileRead));
    contexts = newContexts(raw.contexts);
  } catch (error) {
    throw new InvalidInputError(`${describeOrigin(origin)}: ${(error as Error).message}`, locationOf(origin), {
      cause: error,
    });
  }
  const name =
    options.context ?? raw.currentContext ?? (raw.contexts.length === 1 ? String(raw.contexts[0]!.name) : undefined);
  if (!name)
    throw new InvalidInputError(
      `${describeOrigin(origin)}: no current-context is set`,
      locationOf(origin, "current-context"),
    );
  const context = contexts.find((c) => c.name === name);
  if (!context)
    throw new InvalidInputError(
      `${describeOrigin(origin)}: context '${name}' is not in the kubeconfig`,
      locationOf(origin, options.context === undefined ? "current-context" : "contexts"),
    );
  const cluster = clusters.find((c) => c.name === context.cluster);
  if (!cluster)
    throw new InvalidInputError(
      `${describeOrigin(origin)}: context '${name}' names cluster '${context.cluster}', which is not in the kubeconfig`,
      locationOf(origin, `contexts[${name}].context.cluster`),
    );
  if (!/^https?:\/\//.test(cluster.server))
    throw new InvalidInputError(
      `${describeOrigin(origin)}: cluster '${cluster.name}' has server '${cluster.server}', not an http(s) URL`,
      locationOf(origin, `clusters[${cluster.name}].cluster.server`),
    );
  const user = users.find((u) => u.name === context.user) ?? { name: context.user ?? "" };
  const rawEntry = raw.users.find((u) => u.name === user.name);
  const rawUser = isPlainObject(rawEntry?.user) ? rawEntry.user : {};
  const loaded: LoadedKubeconfig = { clusters, users, contexts, origin, context, cluster, user, rawUser };
  if (origin.kind === "secret") {
    const rawCluster = raw.clusters.find((c) => c.name === cluster.name)?.cluster;
    checkSecretPolicy(loaded, isPlainObject(rawCluster) ? rawCluster : {}, options.allowExec ?? false);
  }
  return loaded;
}

/** A kubeconfig given as text: a Secret's (policy enforced), or one Flotilla wrote itself. */
export function kubeconfigFromText(
  text: string,
  origin: KubeconfigOrigin,
  options: LoadOptions = {},
): LoadedKubeconfig {
  let raw = parseRaw(text, origin);
  if (origin.kind === "file") raw = absolutePaths(raw, dirname(origin.file));
  return load(raw, origin, options);
}

/** One kubeconfig file; relative paths in it are relative to its folder. */
export function kubeconfigFromFile(file: string, options: LoadOptions = {}): LoadedKubeconfig {
  return kubeconfigFromText(readKubeconfigFile(file, "--kubeconfig"), { kind: "file", file }, options);
}

function readKubeconfigFile(file: string, field: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? `kubeconfig '${file}' does not exist`
        : `cannot read the kubeconfig '${file}': ${code ?? (error as Error).message}`;
    throw new NotFoundError(why, { file, field }, { cause: error });
  }
}

/**
 * The files of a `KUBECONFIG` list merged as kubectl merges them (missing files are skipped, as
 * kubectl skips them; none existing is an error). Relative paths resolve against each file's folder.
 */
export function kubeconfigFromList(files: string[], options: LoadOptions = {}): LoadedKubeconfig {
  const present = files.filter((f) => existsSync(f));
  if (present.length === 0)
    throw new NotFoundError(`no kubeconfig: none of ${files.map((f) => `'${f}'`).join(", ")} exists`, {
      file: files[0] ?? "",
      field: "KUBECONFIG",
    });
  const parts = present.map((file) =>
    absolutePaths(parseRaw(readKubeconfigFile(file, "KUBECONFIG"), { kind: "file", file }), dirname(file)),
  );
  return load(mergeRaw(parts), { kind: "file", file: present[0]! }, options);
}

export interface InClusterOptions {
  /** Folder of `token`, `ca.crt` and `namespace` (default /var/run/secrets/kubernetes.io/serviceaccount). */
  serviceAccountDir?: string;
  env?: NodeJS.ProcessEnv;
}

export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** Whether the process runs in a pod with a service account (KUBERNETES_SERVICE_HOST and a token file). */
export function inCluster(options: InClusterOptions = {}): boolean {
  const env = options.env ?? process.env;
  return (
    Boolean(env.KUBERNETES_SERVICE_HOST) && existsSync(join(options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR, "token"))
  );
}

/**
 * The pod's service account, as client-node's `loadFromCluster` sets it up: the server from
 * KUBERNETES_SERVICE_HOST/PORT, the CA file, and the token *file*, which the connection re-reads
 * (projected tokens rotate; reading it once loses the cluster when it expires).
 */
export function kubeconfigInCluster(options: InClusterOptions = {}): LoadedKubeconfig {
  const env = options.env ?? process.env;
  const dir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? "443";
  if (!host)
    throw new NotFoundError("not in a cluster: KUBERNETES_SERVICE_HOST is not set", {
      field: "KUBERNETES_SERVICE_HOST",
    });
  const server = `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const raw: RawKubeconfig = {
    clusters: [{ name: "in-cluster", cluster: { server, "certificate-authority": join(dir, "ca.crt") } }],
    users: [{ name: "service-account", user: { tokenFile: join(dir, "token") } }],
    contexts: [{ name: "in-cluster", context: { cluster: "in-cluster", user: "service-account" } }],
    currentContext: "in-cluster",
  };
  return load(raw, { kind: "in-cluster" }, {});
}

export interface DefaultOptions extends LoadOptions, InClusterOptions {
  /** `--kubeconfig`. */
  flag?: string;
  home?: string;
}

/**
 * The kubeconfig a command uses: `--kubeconfig`, else `$KUBECONFIG` (a list, merged as kubectl
 * merges it), else the pod's service account, else `~/.kube/config` (controller-runtime's order).
 */
export function defaultKubeconfig(options: DefaultOptions = {}): LoadedKubeconfig {
  const env = options.env ?? process.env;
  if (options.flag) return kubeconfigFromFile(options.flag, options);
  const list = (env.KUBECONFIG ?? "").split(delimiter).filter(Boolean);
  if (list.length > 0) return kubeconfigFromList(list, options);
  if (inCluster(options)) return kubeconfigInCluster(options);
  const home = join(options.home ?? homedir(), ".kube", "config");
  if (existsSync(home)) return kubeconfigFromFile(home, options);
  throw new NotFoundError(
    `no kubeconfig: none of '${home}' exists; pass --kubeconfig FILE, set KUBECONFIG, or run in a cluster`,
    {
      file: home,
      field: "--kubeconfig",
    },
  );
}

/** The context names of a kubeconfig and its current context, without resolving them. */
export function kubeconfigContexts(text: string, origin: KubeconfigOrigin): { contexts: string[]; current?: string } {
  const raw = parseRaw(text, origin);
  return {
    contexts: raw.contexts.map((c) => String(c.name ?? "")),
    ...(raw.currentContext ? { current: raw.currentContext } : {}),
  };
}
