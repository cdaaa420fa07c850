import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { KubeConfig } from "@kubernetes/client-node";
import { InvalidInputError, RemoteError } from "../errors.js";
import { isPlainObject } from "../object.js";
import type { User } from "@kubernetes/client-node/dist/config_types.js";
import { ExecPlugin, parseExecConfig, type ExecCredential } from "./exec-plugin.js";
import { describeOrigin, kubeConfigOf, type LoadedKubeconfig } from "./kubeconfig.js";

/**
 * Static credentials (tests, and callers that already hold them): a server and inline material.
 * Anything richer (exec plugins, token files, OIDC, file paths, proxies) comes from a kubeconfig.
 */
export interface Credentials {
  server: string;
  ca?: string;
  token?: string;
  cert?: string;
  key?: string;
  insecure?: boolean;
}

/**
 * Whom to act as (Kubernetes impersonation): sent as `Impersonate-User`, one `Impersonate-Group`
 * per group, `Impersonate-Uid` and `Impersonate-Extra-<key>`. For a service account, use
 * `serviceAccountIdentity(namespace, name)`.
 */
export interface Identity {
  user: string;
  groups?: string[];
  uid?: string;
  extra?: Record<string, string[]>;
}

/** The identity the apiserver gives service account `namespace/name`, as Flux impersonates it. */
export function serviceAccountIdentity(namespace: string, name: string): Identity {
  return {
    user: `system:serviceaccount:${namespace}:${name}`,
    groups: ["system:serviceaccounts", `system:serviceaccounts:${namespace}`, "system:authenticated"],
  };
}

/** The headers that impersonate `who` (node's http accepts an array for a repeated header). */
export function impersonationHeaders(who: Identity): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = { "Impersonate-User": who.user };
  if (who.groups?.length) headers["Impersonate-Group"] = who.groups;
  if (who.uid) headers["Impersonate-Uid"] = who.uid;
  for (const [k, v] of Object.entries(who.extra ?? {})) headers[`Impersonate-Extra-${encodeURIComponent(k)}`] = v;
  return headers;
}

/** What one request is sent with. */
export interface Grant {
  headers: Record<string, string | string[]>;
  /** The pooled keep-alive agent for ordinary requests. */
  agent: http.Agent;
  /** An unpooled agent for long-lived streams (watches), so they never hold a pooled socket. */
  streamAgent: http.Agent;
  /**
   * The server answered 401 to this grant: drop its credential. Resolves true when a different
   * credential is now available, so the request is worth sending once more.
   */
  rejected(): Promise<boolean>;
}

export interface ConnectionOptions {
  /** Keep-alive sockets in the pool (default 8). */
  sockets?: number;
  /** Idle sockets kept open after a burst (default: all of them), and for how long (default 90 s, as client-go's IdleConnTimeout). */
  idle?: { sockets?: number; timeoutMs?: number };
  /** Clock for credential expiry (default Date.now). */
  now?: () => number;
}

/** How a token file is re-read: every minute (as client-go's cached file token source does) and after a 401. */
const TOKEN_FILE_TTL_MS = 60_000;

/** Where the bearer credential of a user comes from. */
interface TokenSource {
  /** Headers carrying the credential (plus the TLS client pair an exec plugin may return). */
  get(): Promise<{
    headers: Record<string, string>;
    clientPair?: { cert: string; key: string };
    rejected(): Promise<boolean>;
  }>;
}

const never = async () => false;

class StaticToken implements TokenSource {
  constructor(private readonly headers: Record<string, string>) {}
  async get() {
    return { headers: this.headers, rejected: never };
  }
}

/** A token read from a file, re-read every minute and after the server refused it (rotating projected tokens). */
class TokenFile implements TokenSource {
  private token: string | undefined;
  private readAt = 0;
  constructor(
    private readonly file: string,
    private readonly now: () => number,
    private readonly who: string,
  ) {}

  private read(): string {
    try {
      this.token = readFileSync(this.file, "utf8").trim();
    } catch (error) {
      throw new RemoteError(
        `${this.who}: cannot read token file ${this.file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
        { file: this.file },
        { cause: error },
      );
    }
    this.readAt = this.now();
    return this.token;
  }

  async get() {
    const token = this.token !== undefined && this.now() - this.readAt < TOKEN_FILE_TTL_MS ? this.token : this.read();
    return {
      headers: { Authorization: `Bearer ${token}` },
      rejected: async () => this.token === token && this.read() !== token,
    };
  }
}

/** A credential from an exec plugin: cached until it expires, run again after a 401. */
class ExecToken implements TokenSource {
  constructor(readonly plugin: ExecPlugin) {}
  async get() {
    const c: ExecCredential = await this.plugin.credential();
    return {
      headers: c.token ? { Authorization: `Bearer ${c.token}` } : ({} as Record<string, string>),
      ...(c.clientCertificateData && c.clientKeyData
        ? { clientPair: { cert: c.clientCertificateData, key: c.clientKeyData } }
        : {}),
      rejected: async () => {
        this.plugin.invalidate(c);
        const next = await this.plugin.credential();
        return next !== c;
      },
    };
  }
}

/** An auth provider client-node implements (oidc, and the legacy gcp/azure ones), asked on every request. */
class ProviderToken implements TokenSource {
  private config: Promise<KubeConfig> | undefined;
  constructor(private readonly loaded: LoadedKubeconfig) {}
  async get() {
    const opts: https.RequestOptions = { headers: {} };
    const { cluster, user } = this.loaded;
    // A view with only the provider, so nothing else (certificates, exec) is applied here.
    this.config ??= kubeConfigOf({
      ...this.loaded,
      clusters: [cluster],
      users: [{ name: user.name, authProvider: user.authProvider } as User],
    });
    await (await this.config).applyToHTTPSOptions(opts);
    const auth = (opts.headers as Record<string, string>).Authorization;
    return { headers: auth ? { Authorization: auth } : ({} as Record<string, string>), rejected: never };
  }
}

interface Tls {
  ca?: Buffer | string;
  cert?: Buffer | string;
  key?: Buffer | string;
  servername?: string;
  rejectUnauthorized: boolean;
  /** client-node's proxy agent when the cluster has `proxy-url`. */
  proxyAgent?: http.Agent;
}

interface Prepared {
  tls: Tls;
  headers: Record<string, string | string[]>;
}

/** A file's bytes or inline base64 data, as client-node's bufferFromFileOrString reads them. */
function fileOrData(file: string | undefined, data: string | undefined): Buffer | undefined {
  if (file) return readFileSync(file);
  return data ? Buffer.from(data, "base64") : undefined;
}

/**
 * TLS material and static headers of the current context, read as client-node's
 * KubeConfig.applyToHTTPSOptions reads them (CA, client pair from data or files,
 * tls-server-name, insecure-skip-tls-verify, token, basic auth, `as`), plus the impersonation
 * fields it omits. A `proxy-url` takes client-node's proxy agent (http(s) or socks).
 */
async function tlsFromKubeconfig(loaded: LoadedKubeconfig, description: string): Promise<Prepared> {
  const { cluster, user, rawUser } = loaded;
  const headers: Record<string, string | string[]> = {};
  let tls: Tls;
  try {
    const ca = fileOrData(cluster.caFile ?? undefined, cluster.caData ?? undefined);
    const cert = fileOrData(user.certFile ?? undefined, user.certData ?? undefined);
    const key = fileOrData(user.keyFile ?? undefined, user.keyData ?? undefined);
    tls = {
      rejectUnauthorized: !cluster.skipTLSVerify,
      ...(ca ? { ca } : {}),
      ...(cert && key ? { cert, key } : {}),
      ...(cluster.tlsServerName ? { servername: cluster.tlsServerName } : {}),
    };
    if (cluster.proxyUrl) {
      const opts: https.RequestOptions = { headers: {} };
      await (
        await kubeConfigOf({
          ...loaded,
          users: [
            {
              name: user.name,
              certData: user.certData,
              certFile: user.certFile,
              keyData: user.keyData,
              keyFile: user.keyFile,
            } as User,
          ],
        })
      ).applyToHTTPSOptions(opts);
      if (opts.agent instanceof http.Agent) tls.proxyAgent = opts.agent;
    }
  } catch (error) {
    const location = loaded.origin.kind === "file" ? { file: loaded.origin.file } : {};
    throw new InvalidInputError(`${description}: ${(error as Error).message}`, location, { cause: error });
  }
  if (user.token) headers.Authorization = `Bearer ${user.token}`;
  else if (user.username)
    headers.Authorization = `Basic ${Buffer.from(`${user.username}:${user.password ?? ""}`).toString("base64")}`;
  if (user.impersonateUser) {
    headers["Impersonate-User"] = user.impersonateUser;
    const groups = Array.isArray(rawUser["as-groups"]) ? rawUser["as-groups"].map(String) : [];
    if (groups.length) headers["Impersonate-Group"] = groups;
    if (typeof rawUser["as-uid"] === "string") headers["Impersonate-Uid"] = rawUser["as-uid"];
    if (isPlainObject(rawUser["as-user-extra"])) {
      for (const [k, v] of Object.entries(rawUser["as-user-extra"]))
        headers[`Impersonate-Extra-${encodeURIComponent(k)}`] = Array.isArray(v) ? v.map(String) : [String(v)];
    }
  }
  return { tls, headers };
}

/** The token source of a kubeconfig user: exec plugin, token file, auth provider, or static. */
function tokenSourceOf(
  loaded: LoadedKubeconfig,
  description: string,
  now: () => number,
): { tokens: TokenSource; plugin?: ExecPlugin } {
  const { cluster, user, rawUser } = loaded;
  if (isPlainObject(rawUser.exec)) {
    const clusterInfo = {
      server: cluster.server,
      ...(cluster.caData ? { "certificate-authority-data": cluster.caData } : {}),
      ...(cluster.tlsServerName ? { "tls-server-name": cluster.tlsServerName } : {}),
      ...(cluster.skipTLSVerify ? { "insecure-skip-tls-verify": true } : {}),
    };
    const plugin = new ExecPlugin(parseExecConfig(rawUser.exec, user.name), {
      user: user.name,
      cluster: clusterInfo,
      now,
    });
    return { tokens: new ExecToken(plugin), plugin };
  }
  if (typeof rawUser.tokenFile === "string" && rawUser.tokenFile && !user.token)
    return { tokens: new TokenFile(rawUser.tokenFile, now, description) };
  if (user.authProvider && !user.token) return { tokens: new ProviderToken(loaded) };
  // token and basic auth come with the TLS view's headers.
  return { tokens: new StaticToken({}) };
}

/**
 * A connection to one cluster: its server, how requests are authenticated, and the agents that
 * carry them. Credentials come from client-node's kubeconfig model (CA and client certificates
 * from data or files, `tls-server-name`, `insecure-skip-tls-verify`, token, basic auth, `as`
 * impersonation), its KubeConfig for `proxy-url` and auth providers (`oidc`), loaded only then,
 * and Flotilla's own token sources for what must refresh on a 401: exec plugins and token files
 * (`tokenFile`, the in-cluster service account).
 * The transport stays Flotilla's: keep-alive sockets, bounded, one pool per connection.
 */
export class Connection {
  readonly server: string;
  /** For messages: which kubeconfig and user. */
  readonly description: string;
  /** The exec plugin, when the user has one (tests count its runs). */
  readonly execPlugin: ExecPlugin | undefined;
  private readonly tokens: TokenSource;
  private readonly sockets: number;
  private readonly idle: { sockets: number; timeoutMs: number };
  private readonly prepare: () => Promise<Prepared>;
  private prepared: Promise<Prepared> | undefined;
  private agents: { key: string; agent: http.Agent; streamAgent: http.Agent } | undefined;
  private readonly retired: http.Agent[] = [];

  private constructor(
    server: string,
    description: string,
    prepare: () => Promise<Prepared>,
    tokens: TokenSource,
    options: ConnectionOptions,
    execPlugin?: ExecPlugin,
  ) {
    this.server = server;
    this.description = description;
    this.prepare = prepare;
    this.tokens = tokens;
    this.sockets = options.sockets ?? 8;
    this.idle = { sockets: options.idle?.sockets ?? this.sockets, timeoutMs: options.idle?.timeoutMs ?? 90_000 };
    this.execPlugin = execPlugin;
  }

  /** A connection with fixed credentials. */
  static fromCredentials(creds: Credentials, options: ConnectionOptions = {}): Connection {
    const tls: Tls = {
      rejectUnauthorized: !creds.insecure,
      ...(creds.ca ? { ca: creds.ca } : {}),
      ...(creds.cert && creds.key ? { cert: creds.cert, key: creds.key } : {}),
    };
    const headers: Record<string, string> = creds.token ? { Authorization: `Bearer ${creds.token}` } : {};
    return new Connection(
      creds.server.replace(/\/$/, ""),
      creds.server,
      async () => ({ tls, headers }),
      new StaticToken({}),
      options,
    );
  }

  /** A connection for a loaded kubeconfig's current context. */
  static fromKubeconfig(loaded: LoadedKubeconfig, options: ConnectionOptions = {}): Connection {
    const description = `${describeOrigin(loaded.origin)} (user '${loaded.user.name}')`;
    const { tokens, plugin } = tokenSourceOf(loaded, description, options.now ?? Date.now);
    return new Connection(
      loaded.cluster.server.replace(/\/$/, ""),
      description,
      () => tlsFromKubeconfig(loaded, description),
      tokens,
      options,
      plugin,
    );
  }

  /** Credentials and agents for one request. */
  async grant(): Promise<Grant> {
    // TLS material is read on first use, so a missing CA file fails a request, not a constructor.
    const { tls, headers } = await (this.prepared ??= this.prepare());
    const t = await this.tokens.get();
    const { agent, streamAgent } = this.agentsFor(tls, t.clientPair);
    return { headers: { ...headers, ...t.headers }, agent, streamAgent, rejected: t.rejected };
  }

  /** The pool, rebuilt when an exec plugin hands out a new client certificate. */
  private agentsFor(
    base: Tls,
    pair: { cert: string; key: string } | undefined,
  ): { agent: http.Agent; streamAgent: http.Agent } {
    const key = pair ? `${pair.cert}\n${pair.key}` : "";
    if (this.agents && this.agents.key === key) return this.agents;
    if (this.agents) this.retired.push(this.agents.agent, this.agents.streamAgent);
    const tls = { ...base, ...(pair ? { cert: pair.cert, key: pair.key } : {}) };
    const build = (pooled: boolean): http.Agent => {
      if (tls.proxyAgent) return tls.proxyAgent;
      // A free socket past its idle timeout is closed by the agent; a request in flight keeps its own timeout.
      const common = {
        keepAlive: pooled,
        ...(pooled
          ? { maxSockets: this.sockets, maxFreeSockets: this.idle.sockets, timeout: this.idle.timeoutMs }
          : {}),
      };
      if (!this.server.startsWith("https:")) return new http.Agent(common);
      const { proxyAgent: _, ...options } = tls;
      return new https.Agent({ ...common, ...options });
    };
    this.agents = { key, agent: build(true), streamAgent: build(false) };
    return this.agents;
  }

  /** Keep-alive sockets open and idle in the pool now. */
  idleSockets(): number {
    const free = this.agents?.agent.freeSockets ?? {};
    return Object.values(free).reduce((n, list) => n + (list?.length ?? 0), 0);
  }

  close(): void {
    for (const a of [...this.retired, ...(this.agents ? [this.agents.agent, this.agents.streamAgent] : [])])
      a.destroy();
    this.retired.length = 0;
    this.agents = undefined;
  }
}
