import https from "node:https";
import http from "node:http";
import { parse as parseYaml } from "yaml";
import { InvalidInputError, RemoteError, TimeoutError } from "../core/errors.js";
import { isPlainObject, type KubeObject } from "../core/object.js";

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

export interface Credentials {
  server: string;
  ca?: string;
  token?: string;
  cert?: string;
  key?: string;
  insecure?: boolean;
}

/** Reads the server and credentials of a kubeconfig's (YAML) current context, or of the context named. */
export function credentialsFromKubeconfig(text: string, contextName?: string): Credentials {
  const doc = parseYaml(text) as Record<string, unknown>;
  if (!isPlainObject(doc)) throw new InvalidInputError("a kubeconfig must be a YAML map", { field: "kubeconfig" });
  const list = (k: string) => (Array.isArray(doc[k]) ? (doc[k] as Array<Record<string, unknown>>) : []);
  const name = contextName ?? String(doc["current-context"] ?? list("contexts")[0]?.name ?? "");
  const context = list("contexts").find((c) => c.name === name)?.context as Record<string, string> | undefined;
  if (!context) throw new InvalidInputError(`context '${name}' is not in the kubeconfig`, { field: contextName === undefined ? "current-context" : "contexts" });
  const cluster = list("clusters").find((c) => c.name === context.cluster)?.cluster as Record<string, unknown> | undefined;
  const user = (list("users").find((u) => u.name === context.user)?.user ?? {}) as Record<string, string>;
  if (!cluster || typeof cluster.server !== "string") throw new InvalidInputError(`cluster '${context.cluster}' has no server`, { field: "clusters" });
  const b64 = (v: unknown) => (typeof v === "string" ? Buffer.from(v, "base64").toString("utf8") : undefined);
  const out: Credentials = { server: cluster.server.replace(/\/$/, "") };
  const ca = b64(cluster["certificate-authority-data"]);
  if (ca) out.ca = ca;
  if (cluster["insecure-skip-tls-verify"] === true) out.insecure = true;
  if (user.token) out.token = user.token;
  const cert = b64(user["client-certificate-data"]);
  const key = b64(user["client-key-data"]);
  if (cert && key) {
    out.cert = cert;
    out.key = key;
  }
  return out;
}

export interface ClientOptions {
  /** Per request (default 30 s); a request that times out is not retried. */
  timeoutMs?: number;
  /** Keep-alive sockets (default 8). */
  sockets?: number;
  /** Most retries of one request (default 10). */
  retries?: number;
  /** No retry starts later than this after the first attempt (default 20 s). */
  retryForMs?: number;
}

/**
 * One client per cluster, reused: keep-alive HTTPS with a bounded socket pool, JSON in and out,
 * retries with backoff on connection errors, 429 and 5xx, a timeout per request, and counts of
 * requests by verb (so tests can prove an unchanged reconcile writes nothing).
 */
export class ClusterClient {
  readonly server: string;
  readonly counts: { get: number; list: number; watch: number; create: number; apply: number; dryRunApply: number; patch: number; delete: number } = { get: 0, list: 0, watch: 0, create: 0, apply: 0, dryRunApply: 0, patch: 0, delete: 0 };
  /** Requests sent again after a connection error, 429 or 5xx (not counted in `counts`). */
  retries = 0;
  private readonly agent: https.Agent | http.Agent;
  private readonly headers: Record<string, string>;
  private discovered: Map<string, ApiResource> | undefined;

  constructor(
    creds: Credentials,
    private readonly options: ClientOptions = {},
    shared?: { agent: https.Agent | http.Agent; counts: ClusterClient["counts"]; headers: Record<string, string> },
  ) {
    this.server = creds.server;
    const sockets = options.sockets ?? 8;
    this.agent =
      shared?.agent ??
      (creds.server.startsWith("https:")
        ? new https.Agent({ keepAlive: true, maxSockets: sockets, ...(creds.ca ? { ca: creds.ca } : {}), ...(creds.cert ? { cert: creds.cert, key: creds.key } : {}), rejectUnauthorized: !creds.insecure })
        : new http.Agent({ keepAlive: true, maxSockets: sockets }));
    if (shared) this.counts = shared.counts;
    this.headers = { Accept: "application/json", ...(creds.token ? { Authorization: `Bearer ${creds.token}` } : {}), ...shared?.headers };
    this.creds = creds;
  }

  private readonly creds: Credentials;

  static fromKubeconfig(text: string, options?: ClientOptions): ClusterClient {
    return new ClusterClient(credentialsFromKubeconfig(text), options);
  }

  /**
   * The same cluster acting as `who` (Kubernetes impersonation: `Impersonate-User`; for a service
   * account's user name the apiserver adds its groups), sharing this client's sockets and request
   * counts; close the original, not this one. The same call as src/core/kube's ClusterClient.as,
   * which is to replace this file. The client's own user needs RBAC verb `impersonate` on it.
   */
  as(who: { user: string }): ClusterClient {
    return new ClusterClient(this.creds, this.options, { agent: this.agent, counts: this.counts, headers: { "Impersonate-User": who.user } });
  }

  /** Total mutating requests (creates, applies, patches, deletes); dry runs are not mutations. */
  writes(): number {
    return this.counts.create + this.counts.apply + this.counts.patch + this.counts.delete;
  }

  close(): void {
    this.agent.destroy();
  }

  /** One HTTP request; non-2xx answers become ApiError unless `allow` lists the status. */
  async request<T = unknown>(method: string, path: string, body?: unknown, opts: { contentType?: string; allow?: number[]; count?: keyof ClusterClient["counts"] } = {}): Promise<ApiResponse<T>> {
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
    for (let attempt = 0; ; attempt++) {
      let res: ApiResponse;
      try {
        res = await this.once(method, path, payload, opts.contentType ?? "application/json");
      } catch (error) {
        // Refused, reset or broken connections: an apiserver restarting. A request that timed out
        // already waited its whole timeout, so it is not sent again.
        const code = (error as { code?: string }).code;
        if ((code === "ECONNREFUSED" || code === "ECONNRESET" || code === "EPIPE") && (await again(attempt))) continue;
        if (error instanceof RemoteError || error instanceof TimeoutError) throw error;
        throw new RemoteError(`${this.server}: ${method} ${path}: ${(error as Error).message}`, { object: this.server }, { cause: error });
      }
      if ((res.status === 429 || (res.status >= 500 && res.status !== 501)) && (await again(attempt))) continue;
      if (res.status >= 300 && !opts.allow?.includes(res.status)) {
        const status = res.body as { reason?: string; message?: string };
        throw new ApiError(res.status, status?.reason ?? "Unknown", status?.message ?? `HTTP ${res.status} from ${method} ${path}`);
      }
      return res as ApiResponse<T>;
    }
  }

  private once(method: string, path: string, payload: string | undefined, contentType: string): Promise<ApiResponse> {
    const url = new URL(path, this.server);
    const mod = url.protocol === "https:" ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(
        url,
        { method, agent: this.agent, headers: { ...this.headers, ...(payload !== undefined ? { "Content-Type": contentType, "Content-Length": Buffer.byteLength(payload) } : {}) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (d: Buffer) => chunks.push(d));
          res.on("error", reject);
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let parsed: unknown = text;
            if (text && (res.headers["content-type"] ?? "").includes("json")) {
              try {
                parsed = JSON.parse(text);
              } catch {
                // keep the text
              }
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
        },
      );
      req.setTimeout(this.options.timeoutMs ?? 30_000, () => req.destroy(new TimeoutError(`${this.server}: ${method} ${url.pathname} timed out`)));
      req.on("error", reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /** Maps every served kind to its resource and scope (refreshed with `refresh`). */
  async discovery(refresh = false): Promise<Map<string, ApiResource>> {
    if (this.discovered && !refresh) return this.discovered;
    const map = new Map<string, ApiResource>();
    type ResourceList = { resources?: Array<{ name: string; kind: string; namespaced: boolean; verbs?: string[] }> };
    const add = (group: string, version: string, preferred: boolean, list: ResourceList) => {
      for (const r of list.resources ?? []) {
        if (r.name.includes("/")) continue;
        map.set(`${group}/${version}/${r.kind}`, { group, version, kind: r.kind, resource: r.name, namespaced: r.namespaced, verbs: r.verbs ?? [], preferred });
      }
    };
    const core = await this.request<ResourceList>("GET", "/api/v1");
    add("", "v1", true, core.body);
    const groups = await this.request<{ groups: Array<{ name: string; versions: Array<{ groupVersion: string; version: string }>; preferredVersion?: { version: string } }> }>("GET", "/apis");
    await Promise.all(
      groups.body.groups.flatMap((g) =>
        g.versions.map(async (v) => {
          const res = await this.request<ResourceList>("GET", `/apis/${v.groupVersion}`, undefined, { allow: [404, 503] });
          if (res.status === 200) add(g.name, v.version, (g.preferredVersion?.version ?? g.versions[0]?.version) === v.version, res.body);
        }),
      ),
    );
    this.discovered = map;
    return map;
  }

  /** The resource of an object's kind, refreshing discovery once when it is unknown. */
  async resourceOf(obj: Pick<KubeObject, "apiVersion" | "kind">): Promise<ApiResource | undefined> {
    const [group, version] = obj.apiVersion.includes("/") ? (obj.apiVersion.split("/") as [string, string]) : ["", obj.apiVersion];
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

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
