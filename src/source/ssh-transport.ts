import ssh2 from "ssh2";
import type { ClientChannel, ConnectConfig } from "ssh2";
import { InvalidInputError, RefusedError, RemoteError, TimeoutError, TooLargeError } from "../core/errors.js";
import { responseKind, type GitHttpRequest, type GitHttpResponse } from "./http-client.js";
import { DEFAULT_SOURCE_LIMITS, formatBytes, type SourceLimits } from "./limits.js";
import { assertPackWithinLimit } from "./pack-scan.js";
import { checkHostKey, hostKeyAlgorithms, parseKnownHosts, type KnownHost } from "./ssh-known-hosts.js";
import { knownHostsName, parseSshUrl, shellQuote, type SshRemote } from "./ssh-url.js";

const { Client, utils } = ssh2;
type SshClient = InstanceType<typeof Client>;

/**
 * The URL isomorphic-git is given for an SSH remote. isomorphic-git speaks smart HTTP only, so the
 * SSH transport poses as an HTTP client: it answers `GET …/info/refs` and `POST …/git-upload-pack`
 * by running `git-upload-pack` on the remote over SSH. The host part is never resolved.
 */
export const SSH_PROXY_URL = "http://ssh-transport.flotilla.invalid/repo";

export interface SshTransportOptions {
  /** A GitRepository Secret's data: `identity` (PEM or OpenSSH private key), `identity.pub`, `known_hosts`, and `password` (the key's passphrase). */
  secret?: Record<string, string> | undefined;
  /** Connection set-up limit (the operation's own timeout still applies). */
  readyTimeoutMs?: number;
  /** What the server may send: advertisements and ref listings by `maxRefsBytes`, packs by `maxArtifactBytes`. */
  limits?: Pick<SourceLimits, "maxRefsBytes" | "maxArtifactBytes">;
}

/** The credentials from a Secret, checked before any connection is made. */
interface SshAuth {
  privateKey: string;
  passphrase?: string;
  knownHosts: KnownHost[];
}

function readAuth(remote: SshRemote, secret: Record<string, string> | undefined): SshAuth {
  const where = { object: remote.display };
  const s = secret ?? {};
  if (!s.identity)
    throw new RefusedError(
      `SSH remote ${remote.display} needs the Secret key 'identity' (a private key, PEM or OpenSSH) and 'known_hosts'`,
      { ...where, field: "identity" },
    );
  if (!s.known_hosts || !s.known_hosts.trim()) {
    throw new RefusedError(
      `SSH remote ${remote.display}: the Secret has no 'known_hosts'; host keys are never trusted on first use (add the output of ssh-keyscan after checking it)`,
      { ...where, field: "known_hosts" },
    );
  }
  const parsed = utils.parseKey(s.identity, s.password);
  if (parsed instanceof Error) {
    const encrypted = /encrypted|passphrase/i.test(parsed.message);
    throw new InvalidInputError(
      encrypted
        ? `the Secret's 'identity' is an encrypted key and ${s.password ? "its 'password' does not decrypt it" : "the Secret has no 'password' to decrypt it"}`
        : `the Secret's 'identity' is not a private key ssh2 can read (${parsed.message.split("\n")[0]})`,
      { ...where, field: "identity" },
    );
  }
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || !key.isPrivateKey())
    throw new InvalidInputError(`the Secret's 'identity' holds no private key`, { ...where, field: "identity" });
  const pub = s["identity.pub"]?.trim();
  if (pub) {
    const blob = Buffer.from(pub.split(/\s+/)[1] ?? "", "base64");
    if (!blob.equals(key.getPublicSSH()))
      throw new InvalidInputError(`the Secret's 'identity.pub' is not the public half of its 'identity'`, {
        ...where,
        field: "identity.pub",
      });
  }
  const knownHosts = parseKnownHosts(s.known_hosts);
  return { privateKey: s.identity, ...(s.password ? { passphrase: s.password } : {}), knownHosts };
}

/** Splits a stream of pkt-lines; `take()` yields whole packets (`null` = flush) as they arrive. */
class PktLines {
  private buffer: Buffer = Buffer.alloc(0);
  push(chunk: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
  }
  /** The next packet, `null` for a flush/delimiter, `undefined` when incomplete. */
  take(): Buffer | null | undefined {
    if (this.buffer.length < 4) return undefined;
    const len = parseInt(this.buffer.subarray(0, 4).toString("latin1"), 16);
    if (Number.isNaN(len) || (len > 0 && len < 4))
      throw new Error(`malformed pkt-line length '${this.buffer.subarray(0, 4).toString("latin1")}'`);
    if (len === 0 || len === 1 || len === 2) {
      this.buffer = this.buffer.subarray(4);
      return null;
    }
    if (this.buffer.length < len) return undefined;
    const pkt = this.buffer.subarray(0, len);
    this.buffer = this.buffer.subarray(len);
    return pkt;
  }
  rest(): Buffer {
    return this.buffer;
  }
}

const pktFlush = Buffer.from("0000");
const pkt = (s: string) => Buffer.from(`${(s.length + 4).toString(16).padStart(4, "0")}${s}`);

/** A running `git-upload-pack` whose capability advertisement was read; its output is paused until a request. */
interface UploadPack {
  channel: ClientChannel;
  version: 0 | 2;
  /** The advertisement, flush included. */
  advertisement: Buffer;
  /** Bytes that came after the advertisement's flush. */
  leftover: Buffer;
  stderr: Buffer[];
  exit: Promise<{ code: number | undefined; signal: string | undefined }>;
}

/**
 * Git's upload-pack protocol over SSH, shaped as an isomorphic-git HTTP client. One SSH connection
 * serves the operation; each `GET info/refs` starts `git-upload-pack '<path>'` (with
 * `GIT_PROTOCOL=version=2` when isomorphic-git asks for protocol v2) and returns its advertisement,
 * and the `POST git-upload-pack` that follows is written to that same process — the exchange git
 * itself has over SSH. The host key is checked against the Secret's known_hosts (plain, hashed,
 * `[host]:port`) and refused when unknown or different; the key material never reaches a message.
 */
export class SshTransport {
  readonly remote: SshRemote;
  private connection: Promise<SshClient> | undefined;
  private client: SshClient | undefined;
  private pending: UploadPack | undefined;
  private hostKeyRefusal: string | undefined;

  constructor(
    url: string,
    private readonly options: SshTransportOptions = {},
  ) {
    this.remote = parseSshUrl(url);
  }

  /** An isomorphic-git `http` plug-in bound to `signal` (abort ends the connection). */
  http(signal?: AbortSignal): { request(req: GitHttpRequest): Promise<GitHttpResponse> } {
    return {
      request: async (req) => {
        if (signal?.aborted) throw signal.reason as Error;
        const onAbort = () => this.close();
        signal?.addEventListener("abort", onAbort, { once: true });
        try {
          return await this.request(req);
        } finally {
          signal?.removeEventListener("abort", onAbort);
        }
      },
    };
  }

  /** Ends the SSH connection (and any upload-pack still running). */
  close(): void {
    this.pending?.channel.close();
    this.pending = undefined;
    this.client?.end();
    this.client = undefined;
    this.connection = undefined;
  }

  private async request(req: GitHttpRequest): Promise<GitHttpResponse> {
    const url = new URL(req.url);
    const v2 = Object.entries(req.headers ?? {}).some(
      ([k, v]) => k.toLowerCase() === "git-protocol" && /version=2/.test(v),
    );
    const method = req.method ?? "GET";
    const response = (body: Buffer, contentType: string): GitHttpResponse => ({
      url: req.url,
      method,
      statusCode: 200,
      statusMessage: "OK",
      headers: { "content-type": contentType },
      body: (async function* () {
        if (body.length) yield new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
      })(),
    });
    if (
      method === "GET" &&
      url.pathname.endsWith("/info/refs") &&
      url.searchParams.get("service") === "git-upload-pack"
    ) {
      this.dropPending();
      const up = await this.startUploadPack(v2);
      this.pending = up;
      // Over HTTP a v0 advertisement starts with the service line isomorphic-git expects.
      const body =
        up.version === 2
          ? up.advertisement
          : Buffer.concat([pkt("# service=git-upload-pack\n"), pktFlush, up.advertisement]);
      return response(body, "application/x-git-upload-pack-advertisement");
    }
    if (method === "POST" && url.pathname.endsWith("/git-upload-pack")) {
      const chunks: Uint8Array[] = [];
      if (req.body) for await (const c of req.body as AsyncIterable<Uint8Array>) chunks.push(c);
      let up = this.pending;
      this.pending = undefined;
      if (!up || up.version !== (v2 ? 2 : 0)) {
        if (up) up.channel.close();
        up = await this.startUploadPack(v2);
      }
      const what = responseKind(method, chunks);
      const result = await this.exchange(up, Buffer.concat(chunks), what);
      if (what === "pack") assertPackWithinLimit(result, this.limits().maxArtifactBytes, this.remote.display);
      return response(result, "application/x-git-upload-pack-result");
    }
    throw new RefusedError(
      `${this.remote.display}: only fetching is supported over SSH (asked for ${method} ${url.pathname.replace(/^\/repo/, "")}${url.search})`,
      { object: this.remote.display },
    );
  }

  private dropPending(): void {
    if (!this.pending) return;
    const { channel } = this.pending;
    this.pending = undefined;
    channel.end(pktFlush);
  }

  private connect(): Promise<SshClient> {
    if (this.connection) return this.connection;
    const { remote } = this;
    const auth = readAuth(remote, this.options.secret);
    const name = knownHostsName(remote.host, remote.port);
    const algorithms = hostKeyAlgorithms(auth.knownHosts, name);
    this.hostKeyRefusal = undefined;
    const client = new Client();
    this.client = client;
    const config: ConnectConfig = {
      host: remote.host,
      port: remote.port,
      username: remote.user,
      privateKey: auth.privateKey,
      ...(auth.passphrase ? { passphrase: auth.passphrase } : {}),
      readyTimeout: this.options.readyTimeoutMs ?? 20_000,
      // No agent, no password, no keyboard-interactive: the Secret's key or nothing.
      tryKeyboard: false,
      hostVerifier: (key: Buffer) => {
        const verdict = checkHostKey(auth.knownHosts, name, key);
        if (!verdict.ok) this.hostKeyRefusal = verdict.message;
        return verdict.ok;
      },
      ...(algorithms
        ? {
            algorithms: {
              serverHostKey: algorithms as NonNullable<NonNullable<ConnectConfig["algorithms"]>["serverHostKey"]>,
            },
          }
        : {}),
    };
    const connection = new Promise<SshClient>((resolve, reject) => {
      client.once("ready", () => resolve(client));
      client.once("error", (error: Error & { level?: string }) => reject(this.connectError(error)));
      client.once("close", () => {
        reject(
          new RemoteError(`${remote.display}: ssh connect failed: the connection closed during set-up`, {
            object: remote.display,
          }),
        );
        if (this.client === client) {
          this.client = undefined;
          this.connection = undefined;
        }
      });
    });
    // Later errors (a dropped connection) surface on the channels in use; keep one listener so
    // they never become unhandled 'error' events.
    client.on("error", () => undefined);
    this.connection = connection;
    connection.catch(() => {
      if (this.connection === connection) this.connection = undefined;
    });
    client.connect(config);
    return connection;
  }

  private connectError(error: Error & { level?: string; code?: string }): Error {
    const { remote } = this;
    const where = { object: remote.display };
    if (this.hostKeyRefusal)
      return new RefusedError(`${remote.display}: host key check failed: ${this.hostKeyRefusal}`, {
        ...where,
        field: "known_hosts",
      });
    if (error.level === "client-authentication") {
      return new RemoteError(
        `${remote.display}: ssh authentication failed: the server refused the Secret's identity for user '${remote.user}' (is it a deploy key of this repository?)`,
        { ...where, field: "identity" },
      );
    }
    if (error.level === "client-timeout" || /timed out/i.test(error.message))
      return new TimeoutError(`${remote.display}: ssh connect timed out`, where);
    if (/no matching host key/i.test(error.message) || /Handshake failed: no matching/i.test(error.message)) {
      return new RefusedError(
        `${remote.display}: host key check failed: the server offers no host key of the types known_hosts holds for ${knownHostsName(remote.host, remote.port)}`,
        { ...where, field: "known_hosts" },
      );
    }
    const reason = error.code ? `${error.code} ${error.message}` : error.message;
    return new RemoteError(`${remote.display}: ssh connect failed: ${reason}`, where);
  }

  /** Starts `git-upload-pack` and reads its capability advertisement (up to the first flush). */
  private async startUploadPack(v2: boolean): Promise<UploadPack> {
    const client = await this.connect();
    const { remote } = this;
    const command = `git-upload-pack ${shellQuote(remote.path)}`;
    const channel = await new Promise<ClientChannel>((resolve, reject) =>
      client.exec(command, v2 ? { env: { GIT_PROTOCOL: "version=2" } } : {}, (err, ch) =>
        err
          ? reject(
              new RemoteError(`${remote.display}: ssh exec of git-upload-pack failed: ${err.message}`, {
                object: remote.display,
              }),
            )
          : resolve(ch),
      ),
    );
    const stderr: Buffer[] = [];
    channel.stderr.on("data", (d: Buffer) => stderr.push(d));
    const exit = new Promise<{ code: number | undefined; signal: string | undefined }>((resolve) => {
      let code: number | undefined;
      let signal: string | undefined;
      channel.on("exit", (c: number | null, s?: string) => {
        code = c ?? undefined;
        signal = s;
      });
      // The exit status can trail the close under load; give it one turn of the event loop.
      channel.on("close", () => setImmediate(() => resolve({ code, signal })));
    });
    const lines = new PktLines();
    const advertised: Buffer[] = [];
    let version: 0 | 2 = 0;
    let received = 0;
    const maxRefs = this.limits().maxRefsBytes;
    await new Promise<void>((resolve, reject) => {
      const done = (error?: Error) => {
        channel.off("data", onData);
        channel.off("close", onClose);
        channel.pause();
        if (error) {
          channel.close();
          reject(error);
        } else resolve();
      };
      const onData = (d: Buffer) => {
        received += d.byteLength;
        if (received > maxRefs) return done(this.tooLarge("ref advertisement", maxRefs, "--max-refs-size"));
        lines.push(d);
        try {
          for (let p = lines.take(); p !== undefined; p = lines.take()) {
            if (advertised.length === 0 && p !== null && p.subarray(4).toString("latin1").startsWith("version 2"))
              version = 2;
            // v0: the ref list; v2: the capabilities — both end with a flush.
            if (p === null) return done();
            advertised.push(p);
          }
        } catch (error) {
          done(
            new RemoteError(
              `${remote.display}: git-upload-pack sent a malformed advertisement: ${(error as Error).message}`,
              {
                object: remote.display,
              },
            ),
          );
        }
      };
      const onClose = () =>
        void exit.then(({ code, signal }) => done(this.uploadPackError("advertisement", code, stderr, signal)));
      channel.on("data", onData);
      channel.on("close", onClose);
    });
    return {
      channel,
      version,
      advertisement: Buffer.concat([...advertised, pktFlush]),
      leftover: lines.rest(),
      stderr,
      exit,
    };
  }

  /** Writes a request to an upload-pack that advertised, ends its input and returns all it sends back. */
  private async exchange(
    up: UploadPack,
    request: Buffer,
    what: "ref advertisement" | "ref listing" | "pack",
  ): Promise<Buffer> {
    const out: Buffer[] = up.leftover.length ? [up.leftover] : [];
    const limit =
      what === "pack"
        ? { bytes: this.limits().maxArtifactBytes, flag: "--max-artifact-size" }
        : { bytes: this.limits().maxRefsBytes, flag: "--max-refs-size" };
    let received = up.leftover.length;
    let refused: Error | undefined;
    up.channel.on("data", (d: Buffer) => {
      received += d.byteLength;
      if (received > limit.bytes && !refused) {
        refused = this.tooLarge(what, limit.bytes, limit.flag);
        up.channel.close();
      }
      if (!refused) out.push(d);
    });
    up.channel.resume();
    up.channel.end(request);
    const { code, signal } = await up.exit;
    if (refused) throw refused;
    if (code !== 0) throw this.uploadPackError("fetch", code, up.stderr, signal);
    return Buffer.concat(out);
  }

  private limits(): Pick<SourceLimits, "maxRefsBytes" | "maxArtifactBytes"> {
    return this.options.limits ?? DEFAULT_SOURCE_LIMITS;
  }

  private tooLarge(what: string, bytes: number, flag: string): TooLargeError {
    return new TooLargeError(
      `${this.remote.display}: the server's ${what} is larger than ${formatBytes(bytes)} (${flag})`,
      {
        object: this.remote.display,
      },
    );
  }

  private uploadPackError(step: string, code: number | undefined, stderr: Buffer[], signal?: string): Error {
    const message = Buffer.concat(stderr).toString("utf8").trim().split("\n").slice(-3).join("; ");
    const status = code === undefined ? (signal ? `killed by ${signal}` : "the channel closed") : `exit ${code}`;
    return new RemoteError(
      `${this.remote.display}: git-upload-pack ${step} failed (${status})${message ? `: ${message}` : ""}`,
      {
        object: this.remote.display,
      },
    );
  }
}
