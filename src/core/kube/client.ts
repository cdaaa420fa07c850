import { createHash } from "node:crypto";
import http from "node:http";
import https from "node:https";
import { RemoteError, TimeoutError } from "../errors.js";
import type { KubeObject } from "../object.js";
import {
  Connection,
  impersonationHeaders,
  type ConnectionOptions,
  type Credentials,
  type Grant,
  type Identity,
} from "./connection.js";
import { kubeconfigFromText, type KubeconfigOrigin, type LoadedKubeconfig, type LoadOptions } from "./kubeconfig.js";

/** A request's outcome: status code and parsed JSON body. */
export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
}

export interface ApiResource {
  group: string;
  version: string;
  kind: string;
  /** Plural resource name (`deployments`). */
  resource: string;
  namespaced: boolean;
  /** The verbs it supports (`list`, `watch`, …). */
  verbs?: string[];
  /** Whether `version` is its group's preferred version. */
  preferred?: boolean;
}

/** An error status from the apiserver, with its reason and message. */
export class ApiError extends RemoteError {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    location: { object?: string; field?: string } = {},
  ) {
    super(message, location);
  }
}

export interface ClientOptions {
  /** Per request (default 30 s); a request that times out is not retried. */
  timeoutMs?: number;
  /** Keep-alive sockets (default 8). */
  sockets?: number;
  /** Idle sockets kept after a burst (default: all) and for how long (default 90 s). */
  idle?: { sockets?: number; timeoutMs?: number };
  /** Most retries of one request (default 10). */
  retries?: number;
  /** No retry starts later than this after the first attempt (default 20 s). */
  retryForMs?: number;
  /** Clock for credential expiry (default Date.now). */
  now?: () => number;
  /** The User-Agent of every request (default `flotilla`): a replica names itself here, so the apiserver's audit log tells replicas apart. */
  userAgent?: string;
}

/** An open stream of lines (a watch); `done` settles when the server ends it. */
export interface LineStream {
  /** The HTTP status; lines are delivered only for 200. */
  status: number;
  /** The body of a non-200 answer, parsed when JSON. */
  body?: unknown;
  done: Promise<void>;
  abort(): void;
}

type Counts = {
  get: number;
  list: number;
  watch: number;
  create: number;
  apply: number;
  dryRunApply: number;
  patch: number;
  delete: number;
};

/**
 * One client per cluster, reused: keep-alive HTTPS with a bounded socket pool, JSON in and out,
 * retries with backoff on connection errors, 429 and 5xx, a timeout per request, one more try
 * after a 401 when the credential could be refreshed (exec plugin, token file), and counts of
 * requests by verb (so tests can prove an unchanged reconcile writes nothing). Credentials come
 * from its Connection (see connection.ts); every caller that talks to a cluster uses this class.
 */
export class ClusterClient {
  readonly server: string;
  readonly connection: Connection;
  readonly counts: Counts;
  /** Requests sent again after a connection error, 429 or 5xx (not counted in `counts`). */
  retries = 0;
  /** Requests sent again after a 401 with a refreshed credential. */
  reauthentications = 0;
  private readonly extraHeaders: Record<string, string | string[]>;
  private readonly owner: boolean;
  private discovered: Map<string, ApiResource> | undefined;

  constructor(
    credentials: Connection | Credentials,
    private readonly options: ClientOptions = {},
    shared?: { counts: Counts; headers: Record<string, string | string[]> },
  ) {
    this.connection =
      credentials instanceof Connection
        ? credentials
        : Connection.fromCredentials(credentials, connectionOptions(options));
    this.server = this.connection.server;
    this.counts = shared?.counts ?? {
      get: 0,
      list: 0,
      watch: 0,
      create: 0,
      apply: 0,
      dryRunApply: 0,
      patch: 0,
      delete: 0,
    };
    this.extraHeaders = shared?.headers ?? {};
    this.owner = shared === undefined;
  }

  /**
   * A client for a kubeconfig Flotilla trusts: text it wrote itself (local clusters, tests), or one
   * already loaded (see kubeconfig.ts). A Secret's kubeconfig goes through `fromSecret`.
   */
  static fromKubeconfig(kubeconfig: string | LoadedKubeconfig, options?: ClientOptions): ClusterClient {
    return ClusterClient.connect(
      typeof kubeconfig === "string"
        ? kubeconfigFromText(kubeconfig, { kind: "generated", name: "a local cluster" })
        : kubeconfig,
      options,
    );
  }

  /** A client for a kubeconfig Secret's text: no file paths, no exec plugin unless `allowExec`. */
  static fromSecret(text: string, secret: string, options: ClientOptions & LoadOptions = {}): ClusterClient {
    return ClusterClient.connect(
      kubeconfigFromText(text, { kind: "secret", secret } satisfies KubeconfigOrigin, options),
      options,
    );
  }

  /** A client for a loaded kubeconfig (see kubeconfig.ts: files, KUBECONFIG lists, in-cluster). */
  static connect(loaded: LoadedKubeconfig, options: ClientOptions = {}): ClusterClient {
    return new ClusterClient(Connection.fromKubeconfig(loaded, connectionOptions(options)), options);
  }

  /**
   * The same cluster, acting as `who` (Kubernetes impersonation): every request carries
   * `Impersonate-User`/`-Group`/`-Uid`/`-Extra-*`. It shares this client's connection, socket pool
   * and request counts; its `close()` leaves them open (close the original). For Flux's
   * `spec.serviceAccountName`: `client.as(serviceAccountIdentity(namespace, name))`. The
   * connection's own user needs RBAC verb `impersonate` on users, groups (and serviceaccounts).
   */
  as(who: Identity): ClusterClient {
    return new ClusterClient(this.connection, this.options, {
      counts: this.counts,
      headers: { ...this.extraHeaders, ...impersonationHeaders(who) },
    });
  }

  /** Total mutating requests (creates, applies, patches, deletes); dry runs are not mutations. */
  writes(): number {
    return this.counts.create + this.counts.apply + this.counts.patch + this.counts.delete;
  }

  /** Keep-alive sockets open and idle in the pool now. */
  idleSockets(): number {
    return this.connection.idleSockets();
  }

  close(): void {
    if (this.owner) this.connection.close();
  }

  /** One HTTP request; non-2xx answers become ApiError unless `allow` lists the status. */
  async request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    opts: { contentType?: string; allow?: number[]; count?: keyof Counts; accept?: string } = {},
  ): Promise<ApiResponse<T>> {
    if (opts.count) this.counts[opts.count]++;
    const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    const retries = this.options.retries ?? 10;
    const retryFor = this.options.retryForMs ?? 20_000;
    const started = Date.now();
    // Backoff 200 ms, doubling to at most 2 s; retries stop after `retries` or `retryForMs`.
    const again = async (attempt: number): Promise<boolean> => {
      if (attempt >= retries || Date.now() - started >= retryFor) return false;
      this.retries++;
      await sleep(Math.min(2000, 200 * 2 ** attempt) * (0.75 + Math.random() * 0.5));
      return true;
    };
    let reauthenticated = false;
    for (let attempt = 0; ; attempt++) {
      let res: ApiResponse;
      let grant: Grant;
      try {
        grant = await this.connection.grant();
        res = await this.once(grant, method, path, payload, opts.contentType ?? "application/json", opts.accept);
      } catch (error) {
        // Refused, reset or broken connections: an apiserver restarting. A request that timed out
        // already waited its whole timeout, so it is not sent again.
        const code = (error as { code?: string }).code;
        if ((code === "ECONNREFUSED" || code === "ECONNRESET" || code === "EPIPE") && (await again(attempt))) continue;
        if (error instanceof RemoteError || error instanceof TimeoutError) throw error;
        throw new RemoteError(
          `${this.server}: ${method} ${path}: ${(error as Error).message}`,
          { object: this.server },
          { cause: error },
        );
      }
      // A refused credential: once, with a fresh one, when its source can give another.
      if (res.status === 401 && !reauthenticated && (await grant.rejected())) {
        reauthenticated = true;
        this.reauthentications++;
        attempt--;
        continue;
      }
      if ((res.status === 429 || (res.status >= 500 && res.status !== 501)) && (await again(attempt))) continue;
      if (res.status >= 300 && !opts.allow?.includes(res.status)) {
        const status = res.body as { reason?: string; message?: string };
        const message = status?.message ?? `HTTP ${res.status} from ${method} ${path}`;
        throw new ApiError(
          res.status,
          status?.reason ?? "Unknown",
          res.status === 401 ? `${this.connection.description}: ${message}` : message,
        );
      }
      return res as ApiResponse<T>;
    }
  }

  private headersOf(grant: Grant, accept = "application/json"): Record<string, string | string[]> {
    return {
      Accept: accept,
      "User-Agent": this.options.userAgent ?? "flotilla",
      ...grant.headers,
      ...this.extraHeaders,
    };
  }

  private once(
    grant: Grant,
    method: string,
    path: string,
    payload: string | undefined,
    contentType: string,
    accept?: string,
  ): Promise<ApiResponse> {
    const url = new URL(path, this.server);
    const mod = url.protocol === "https:" ? https : http;
    const headers = {
      ...this.headersOf(grant, accept),
      ...(payload !== undefined ? { "Content-Type": contentType, "Content-Length": Buffer.byteLength(payload) } : {}),
    };
    return new Promise((resolve, reject) => {
      const req = mod.request(url, { method, agent: grant.agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (d: Buffer) => chunks.push(d));
        res.on("error", reject);
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body: parseBody(Buffer.concat(chunks).toString("utf8"), res.headers["content-type"]),
          }),
        );
      });
      req.setTimeout(this.options.timeoutMs ?? 30_000, () =>
        req.destroy(new TimeoutError(`${this.server}: ${method} ${url.pathname} timed out`)),
      );
      req.on("error", reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /**
   * A long-lived GET (a watch) on an unpooled connection, handing each line of the body to
   * `onLine`. Resolves once the answer's status is known; one more try after a 401 as `request`.
   */
  async stream(
    path: string,
    onLine: (line: string) => void,
    opts: { accept?: string; count?: keyof Counts } = {},
  ): Promise<LineStream> {
    if (opts.count) this.counts[opts.count]++;
    for (let reauthenticated = false; ; reauthenticated = true) {
      const grant = await this.connection.grant();
      const stream = await this.openStream(grant, path, onLine, opts.accept ?? "application/json");
      if (stream.status === 401 && !reauthenticated && (await grant.rejected())) {
        this.reauthentications++;
        continue;
      }
      return stream;
    }
  }

  private openStream(grant: Grant, path: string, onLine: (line: string) => void, accept: string): Promise<LineStream> {
    const url = new URL(path, this.server);
    const mod = url.protocol === "https:" ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(
        url,
        { method: "GET", agent: grant.streamAgent, headers: this.headersOf(grant, accept) },
        (res) => {
          const status = res.statusCode ?? 0;
          if (status !== 200) {
            const chunks: Buffer[] = [];
            res.on("data", (d: Buffer) => chunks.push(d));
            res.on("end", () =>
              resolve({
                status,
                body: parseBody(Buffer.concat(chunks).toString("utf8"), res.headers["content-type"]),
                done: Promise.resolve(),
                abort: () => undefined,
              }),
            );
            res.on("error", reject);
            return;
          }
          // Ending the stream ourselves (abort) is a normal end, not an error.
          let aborted = false;
          const done = new Promise<void>((end, fail) => {
            let buffer = "";
            const failUnlessAborted = (error: Error) => (aborted ? end() : fail(error));
            res.setEncoding("utf8");
            res.on("data", (chunk: string) => {
              buffer += chunk;
              let newline: number;
              while ((newline = buffer.indexOf("\n")) >= 0) {
                const line = buffer.slice(0, newline);
                buffer = buffer.slice(newline + 1);
                if (line.trim()) onLine(line);
              }
            });
            res.on("end", () => end());
            res.on("error", failUnlessAborted);
            res.on("aborted", () =>
              failUnlessAborted(new RemoteError(`${this.server}: watch ${url.pathname} aborted`)),
            );
            req.on("close", () => end());
          });
          done.catch(() => undefined); // a caller that never awaits it must not see an unhandled rejection
          resolve({
            status,
            done,
            abort: () => {
              aborted = true;
              req.destroy();
            },
          });
        },
      );
      req.on("error", (e) =>
        reject(
          e instanceof RemoteError
            ? e
            : new RemoteError(
                `${this.server}: GET ${url.pathname}: ${e.message}`,
                { object: this.server },
                { cause: e },
              ),
        ),
      );
      req.end();
    });
  }

  /** Maps every served kind to its resource and scope (refreshed with `refresh`); the map is shared, never to be changed. */
  async discovery(refresh = false): Promise<Map<string, ApiResource>> {
    if (this.discovered && !refresh) return this.discovered;
    const map = new Map<string, ApiResource>();
    type ResourceList = { resources?: Array<{ name: string; kind: string; namespaced: boolean; verbs?: string[] }> };
    const add = (group: string, version: string, preferred: boolean, list: ResourceList) => {
      for (const r of list.resources ?? []) {
        if (r.name.includes("/")) continue;
        map.set(`${group}/${version}/${r.kind}`, {
          group,
          version,
          kind: r.kind,
          resource: r.name,
          namespaced: r.namespaced,
          verbs: r.verbs ?? [],
          preferred,
        });
      }
    };
    const core = await this.request<ResourceList>("GET", "/api/v1");
    add("", "v1", true, core.body);
    const groups = await this.request<{
      groups: Array<{
        name: string;
        versions: Array<{ groupVersion: string; version: string }>;
        preferredVersion?: { version: string };
      }>;
    }>("GET", "/apis");
    await Promise.all(
      groups.body.groups.flatMap((g) =>
        g.versions.map(async (v) => {
          const res = await this.request<ResourceList>("GET", `/apis/${v.groupVersion}`, undefined, {
            allow: [404, 503],
          });
          if (res.status === 200)
            add(g.name, v.version, (g.preferredVersion?.version ?? g.versions[0]?.version) === v.version, res.body);
        }),
      ),
    );
    this.discovered = sharedDiscovery(map);
    return this.discovered;
  }

  /** The resource of an object's kind, refreshing discovery once when it is unknown. */
  async resourceOf(obj: Pick<KubeObject, "apiVersion" | "kind">): Promise<ApiResource | undefined> {
    const [group, version] = obj.apiVersion.includes("/")
      ? (obj.apiVersion.split("/") as [string, string])
      : ["", obj.apiVersion];
    const key = `${group}/${version}/${obj.kind}`;
    return (await this.discovery()).get(key) ?? (await this.discovery(true)).get(key);
  }

  /** The URL path of an object (or of its collection when `name` is omitted). */
  static pathOf(r: ApiResource, namespace: string | undefined, name?: string): string {
    const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
    const ns = r.namespaced ? `/namespaces/${encodeURIComponent(namespace ?? "default")}` : "";
    return `${base}${ns}/${r.resource}${name ? `/${encodeURIComponent(name)}` : ""}`;
  }
}

function connectionOptions(options: ClientOptions): ConnectionOptions {
  return {
    ...(options.sockets !== undefined ? { sockets: options.sockets } : {}),
    ...(options.idle ? { idle: options.idle } : {}),
    ...(options.now ? { now: options.now } : {}),
  };
}

function parseBody(text: string, contentType: string | undefined): unknown {
  if (text && (contentType ?? "").includes("json")) {
    try {
      return JSON.parse(text);
    } catch {
      // keep the text
    }
  }
  return text;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Clusters of one version serve the same discovery: a controller of a thousand clusters keeps one
 * copy of each distinct answer (the last 32), not a thousand.
 */
const discoveries = new Map<string, Map<string, ApiResource>>();
const DISCOVERIES_KEPT = 32;

function sharedDiscovery(map: Map<string, ApiResource>): Map<string, ApiResource> {
  const key = createHash("sha256")
    .update(JSON.stringify([...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))))
    .digest("hex");
  const known = discoveries.get(key);
  if (known) {
    discoveries.delete(key);
    discoveries.set(key, known);
    return known;
  }
  discoveries.set(key, map);
  if (discoveries.size > DISCOVERIES_KEPT) discoveries.delete(discoveries.keys().next().value!);
  return map;
}
