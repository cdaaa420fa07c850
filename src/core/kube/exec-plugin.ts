import { spawn } from "node:child_process";
import { RemoteError } from "../errors.js";
import { isPlainObject } from "../object.js";

const API_VERSIONS = ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"];
/** Most output a plugin may print (a token or a certificate pair is a few KiB). */
const MAX_OUTPUT = 1 << 20;
const STDERR_SHOWN = 2_000;

/** What an exec credential plugin hands back. */
export interface ExecCredential {
  token?: string;
  clientCertificateData?: string;
  clientKeyData?: string;
  /** Epoch ms; undefined: valid until the server refuses it. */
  expiresAt?: number;
}

/** The `exec:` map of a kubeconfig user, checked. */
export interface ExecConfig {
  apiVersion: string;
  command: string;
  args: string[];
  env: Array<{ name: string; value: string }>;
  installHint?: string;
  provideClusterInfo: boolean;
  interactiveMode: string;
}

/** Reads and checks a kubeconfig user's `exec` map; errors name the user and the field. */
export function parseExecConfig(raw: unknown, user: string): ExecConfig {
  const fail = (message: string) =>
    new RemoteError(`user '${user}': exec: ${message}`, { field: `users[${user}].exec` });
  if (!isPlainObject(raw)) throw fail("must be a map");
  const apiVersion = String(raw.apiVersion ?? "");
  if (!API_VERSIONS.includes(apiVersion))
    throw fail(`apiVersion '${apiVersion}' is not one of ${API_VERSIONS.join(", ")}`);
  if (typeof raw.command !== "string" || !raw.command) throw fail("command is missing");
  const args = Array.isArray(raw.args) ? raw.args.map(String) : [];
  const env = Array.isArray(raw.env)
    ? raw.env.filter(isPlainObject).map((e) => ({ name: String(e.name ?? ""), value: String(e.value ?? "") }))
    : [];
  const interactiveMode = typeof raw.interactiveMode === "string" ? raw.interactiveMode : "IfAvailable";
  // A controller has no terminal; a plugin that must prompt cannot work here.
  if (interactiveMode === "Always") throw fail("interactiveMode 'Always' needs a terminal, which Flotilla never has");
  return {
    apiVersion,
    command: raw.command,
    args,
    env,
    ...(typeof raw.installHint === "string" ? { installHint: raw.installHint } : {}),
    provideClusterInfo: raw.provideClusterInfo === true,
    interactiveMode,
  };
}

export interface ExecPluginOptions {
  /** The kubeconfig user, named in every error. */
  user: string;
  /** Passed in KUBERNETES_EXEC_INFO when `provideClusterInfo` is set. */
  cluster?: {
    server: string;
    "certificate-authority-data"?: string;
    "tls-server-name"?: string;
    "insecure-skip-tls-verify"?: boolean;
  };
  now?: () => number;
  /** A plugin still running after this is killed (default 60 s). */
  timeoutMs?: number;
}

/**
 * Runs a kubeconfig's exec credential plugin as kubectl does (client.authentication.k8s.io v1 or
 * v1beta1, KUBERNETES_EXEC_INFO, never interactive) and caches its credential until
 * `expirationTimestamp`. `invalidate` drops a credential the server refused (a 401), so the next
 * request runs the plugin again. Concurrent callers share one run. A failure names the user, the
 * command and the plugin's stderr; stdout, which holds the token, is never quoted.
 *
 * client-node's ExecAuth is not used: it cannot be told the server refused a token, reads the
 * wall clock, and reports a failure with stderr alone.
 */
export class ExecPlugin {
  /** How many times the plugin has been run. */
  runs = 0;
  private cached: ExecCredential | undefined;
  private inFlight: Promise<ExecCredential> | undefined;
  private readonly now: () => number;

  constructor(
    private readonly config: ExecConfig,
    private readonly options: ExecPluginOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** The cached credential while it is valid, else a fresh one. */
  async credential(): Promise<ExecCredential> {
    const c = this.cached;
    if (c && (c.expiresAt === undefined || c.expiresAt > this.now())) return c;
    this.inFlight ??= this.run().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  /** Forgets `credential` (the server refused it); a newer one already fetched is kept. */
  invalidate(credential: ExecCredential): void {
    if (this.cached === credential) this.cached = undefined;
  }

  private async run(): Promise<ExecCredential> {
    this.runs++;
    const { stdout, stderr, code, error } = await this.spawn();
    const who = `user '${this.options.user}': exec plugin '${this.config.command}'`;
    if (error) {
      const hint = this.config.installHint ? `\n${this.config.installHint}` : "";
      throw new RemoteError(`${who} could not be run: ${error.message}${hint}`, {
        field: `users[${this.options.user}].exec.command`,
      });
    }
    if (code !== 0)
      throw new RemoteError(`${who} failed (${code}): ${clip(stderr) || "no output on stderr"}`, {
        field: `users[${this.options.user}].exec`,
      });
    const credential = this.parse(stdout, who);
    this.cached = credential;
    return credential;
  }

  private parse(stdout: string, who: string): ExecCredential {
    let doc: unknown;
    try {
      doc = JSON.parse(stdout);
    } catch {
      throw new RemoteError(
        `${who} printed no ExecCredential JSON (${stdout.length} bytes of output, not shown: it may hold a credential)`,
      );
    }
    if (!isPlainObject(doc) || doc.kind !== "ExecCredential")
      throw new RemoteError(`${who} printed something other than an ExecCredential`);
    if (doc.apiVersion !== this.config.apiVersion)
      throw new RemoteError(
        `${who} answered apiVersion '${String(doc.apiVersion)}', the kubeconfig asks for '${this.config.apiVersion}'`,
      );
    const status = isPlainObject(doc.status) ? doc.status : {};
    const out: ExecCredential = {};
    if (typeof status.token === "string" && status.token) out.token = status.token;
    if (typeof status.clientCertificateData === "string" && typeof status.clientKeyData === "string") {
      out.clientCertificateData = status.clientCertificateData;
      out.clientKeyData = status.clientKeyData;
    }
    if (!out.token && !out.clientCertificateData)
      throw new RemoteError(
        `${who} returned an ExecCredential with neither status.token nor status.clientCertificateData and clientKeyData`,
      );
    if (typeof status.expirationTimestamp === "string") {
      const at = Date.parse(status.expirationTimestamp);
      if (Number.isNaN(at))
        throw new RemoteError(`${who} returned status.expirationTimestamp '${status.expirationTimestamp}', not a time`);
      out.expiresAt = at;
    }
    return out;
  }

  private spawn(): Promise<{ stdout: string; stderr: string; code: number | null; error?: Error }> {
    const info = {
      apiVersion: this.config.apiVersion,
      kind: "ExecCredential",
      spec: {
        interactive: false,
        ...(this.config.provideClusterInfo && this.options.cluster ? { cluster: this.options.cluster } : {}),
      },
    };
    const env = {
      ...process.env,
      ...Object.fromEntries(this.config.env.map((e) => [e.name, e.value])),
      KUBERNETES_EXEC_INFO: JSON.stringify(info),
    };
    return new Promise((resolve) => {
      let stdout = "";
      let stderr = "";
      let settled = false;
      const done = (result: { code: number | null; error?: Error }) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ stdout, stderr, ...result });
      };
      const child = spawn(this.config.command, this.config.args, { env, stdio: ["ignore", "pipe", "pipe"] });
      const timeoutMs = this.options.timeoutMs ?? 60_000;
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        done({ code: null, error: new Error(`no answer within ${timeoutMs / 1000} s`) });
      }, timeoutMs);
      child.stdout.setEncoding("utf8").on("data", (d: string) => {
        stdout += d;
        if (stdout.length > MAX_OUTPUT) {
          child.kill("SIGKILL");
          done({ code: null, error: new Error(`printed more than ${MAX_OUTPUT} bytes`) });
        }
      });
      child.stderr.setEncoding("utf8").on("data", (d: string) => {
        if (stderr.length < MAX_OUTPUT) stderr += d;
      });
      child.on("error", (error) => done({ code: null, error }));
      child.on("close", (code) => done({ code }));
    });
  }
}

function clip(text: string): string {
  const t = text.trim();
  return t.length > STDERR_SHOWN ? `${t.slice(0, STDERR_SHOWN)}…` : t;
}
