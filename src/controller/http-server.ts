import http from "node:http";
import type { AddressInfo } from "node:net";
import { ConflictError, InvalidInputError } from "../core/errors.js";
import type { Logger } from "../core/log.js";
import { CONTENT_TYPE, type Metrics } from "../status/metrics.js";
import { readPush, sameSecret, type PushEvent } from "./webhook.js";

/** One push receiver: `POST /hook/<token>`; with a `secret`, requests must be signed with it (see webhook.ts). */
export interface HookReceiver {
  token: string;
  secret: string | undefined;
  onPush(event: PushEvent): void;
}

export interface HttpServerOptions {
  /** 0 picks a free port (see `url`). */
  port: number;
  /** Default 0.0.0.0, so that the kubelet's probes and Prometheus reach it in a pod. */
  host?: string;
  metrics: Metrics;
  ready: () => boolean;
  /** Asked on every hook request, so receivers can come and go. */
  receivers: () => readonly HookReceiver[];
  logger: Logger;
  /** Largest accepted hook payload (default 1 MiB; a push event is a few KiB, GitHub caps them at 25 MB). */
  maxBodyBytes?: number;
  /** Hook payloads read at once (default 8); a hook beyond them is answered 503 without reading it. */
  maxConcurrentHooks?: number;
  /** Time a hook may take to send its payload (default 10 s), else 408. */
  hookBodyTimeoutMs?: number;
  /** Open connections at once (default 256); the server closes any beyond them at once. */
  maxConnections?: number;
}

export interface HttpServer {
  /** `http://host:port` with the port actually bound. */
  url: string;
  close(): Promise<void>;
}

const DEFAULT_MAX_BODY = 1024 * 1024;
const DEFAULT_CONCURRENT_HOOKS = 8;
const DEFAULT_HOOK_BODY_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_CONNECTIONS = 256;

/**
 * A `--listen` value as `startHttpServer` takes it: `:8080` (every interface), `127.0.0.1:8080`,
 * `[::1]:8080`, or a bare port. The port must be 0–65535 (0: any free port).
 */
export function parseListenAddress(value: string, field = "--listen"): { host: string; port: number } {
  const text = value.trim();
  const colon = text.lastIndexOf(":");
  const portText = colon < 0 ? text : text.slice(colon + 1);
  let host = colon < 0 ? "" : text.slice(0, colon);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  const port = Number(portText);
  if (
    !/^\d+$/.test(portText) ||
    port > 65_535 ||
    /[[\]\s/]/.test(host) ||
    (host.includes(":") && !text.startsWith("["))
  ) {
    throw new InvalidInputError(`'${value}' is not a listen address: expected :PORT, HOST:PORT or [IPv6]:PORT`, {
      field,
    });
  }
  return { host: host === "" ? "0.0.0.0" : host, port };
}

/** The receiver whose token is `token`; every receiver is compared, in constant time. */
function findReceiver(receivers: readonly HookReceiver[], token: string): HookReceiver | undefined {
  let found: HookReceiver | undefined;
  for (const r of receivers) if (sameSecret(r.token, token) && !found) found = r;
  return found;
}

function send(res: http.ServerResponse, status: number, body: string, contentType = "text/plain; charset=utf-8"): void {
  res.writeHead(status, {
    "content-type": contentType,
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
  });
  res.end(res.req.method === "HEAD" ? undefined : body);
}

/** The token of `/hook/<token>` (percent-decoded; undecodable text is taken as it is). */
function pathToken(path: string): string {
  const raw = path.slice("/hook/".length);
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

class BodyTooLarge extends Error {}
class BodyTooSlow extends Error {}

/** The request's body, refused once larger than `limit` bytes or slower than `timeoutMs`. */
function readBody(req: http.IncomingMessage, limit: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (error: Error) => {
      clearTimeout(timer);
      req.removeAllListeners("data");
      req.pause();
      reject(error);
    };
    const timer = setTimeout(() => stop(new BodyTooSlow()), timeoutMs);
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) stop(new BodyTooLarge());
      else chunks.push(c);
    });
    req.on("end", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    req.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** An answer that ends the connection, so that a payload nobody reads stops arriving. */
function refuse(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader("connection", "close");
  send(res, status, body);
  res.once("finish", () => res.req.socket.destroy());
}

/**
 * The controller's HTTP endpoint: `/metrics` (Prometheus text), `/healthz` (the process answers),
 * `/readyz` (200 once `ready()`, else 503) and `POST /hook/<token>` push webhooks (GitHub, GitLab
 * and generic senders, verified by webhook.ts's readPush). A hook is refused before its payload is
 * read when its token is unknown (404), its declared size is over the limit (413) or too many
 * hooks are being read (503); a payload that grows over the limit is 413, one that arrives too
 * slowly 408; a bad signature is 401, an ignored event kind 202. Tokens, secrets and payloads are
 * never logged: a hook is logged by its sender, status and the repository URLs it names.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const log = options.logger.child({ component: "http" });
  const limit = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const maxHooks = options.maxConcurrentHooks ?? DEFAULT_CONCURRENT_HOOKS;
  const bodyTimeoutMs = options.hookBodyTimeoutMs ?? DEFAULT_HOOK_BODY_TIMEOUT_MS;
  let hooksReading = 0;

  async function hook(req: http.IncomingMessage, res: http.ServerResponse, token: string): Promise<void> {
    if (req.method !== "POST") return refuse(res, 405, "hooks take POST\n", { allow: "POST" });
    const receiver = token ? findReceiver(options.receivers(), token) : undefined;
    if (!receiver) {
      log.info({ status: 404 }, "hook for an unknown token");
      return refuse(res, 404, "unknown hook\n");
    }
    if (Number(req.headers["content-length"] ?? 0) > limit) return tooLarge(res);
    if (hooksReading >= maxHooks) {
      log.warn({ status: 503, reading: hooksReading }, "hook refused: too many hooks being read");
      return refuse(res, 503, "too many hooks at once; retry\n", { "retry-after": "1" });
    }
    let body: Buffer;
    hooksReading++;
    try {
      body = await readBody(req, limit, bodyTimeoutMs);
    } catch (error) {
      if (error instanceof BodyTooLarge) return tooLarge(res);
      if (error instanceof BodyTooSlow) {
        log.warn({ status: 408, timeoutMs: bodyTimeoutMs }, "hook payload too slow");
        return refuse(res, 408, `payload not received within ${bodyTimeoutMs} ms\n`);
      }
      throw error;
    } finally {
      hooksReading--;
    }
    const verdict = readPush(receiver.secret, req.headers, body);
    if (!verdict.ok) {
      const level = verdict.status === 202 ? "info" : "warn";
      log[level]({ status: verdict.status, reason: verdict.reason }, "hook refused");
      return send(res, verdict.status, `${verdict.reason}\n`);
    }
    log.info({ sender: verdict.event.sender, urls: verdict.event.urls, ref: verdict.event.ref }, "push received");
    receiver.onPush(verdict.event);
    send(
      res,
      200,
      `${JSON.stringify({ sender: verdict.event.sender, urls: verdict.event.urls, ...(verdict.event.ref ? { ref: verdict.event.ref } : {}) })}\n`,
      "application/json",
    );
  }

  function tooLarge(res: http.ServerResponse): void {
    log.warn({ status: 413, limit }, "hook payload too large");
    refuse(res, 413, `payload larger than ${limit} bytes\n`);
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0]!;
    if (path.startsWith("/hook/") || path === "/hook") return hook(req, res, pathToken(path));
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      return send(res, 405, "method not allowed\n");
    }
    if (path === "/metrics") return send(res, 200, options.metrics.render(), CONTENT_TYPE);
    if (path === "/healthz") return send(res, 200, "ok\n");
    if (path === "/readyz") return options.ready() ? send(res, 200, "ok\n") : send(res, 503, "not ready\n");
    send(res, 404, "not found\n");
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log.error(
        {
          err: { message: (error as Error).message },
          path: (req.url ?? "").startsWith("/hook/") ? "/hook/…" : req.url,
        },
        "request failed",
      );
      if (!res.headersSent) send(res, 500, "internal error\n");
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  // Slow clients hold a socket each: bound the time to send headers and a whole request, and the sockets.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const host = options.host ?? "0.0.0.0";
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        new ConflictError(
          `cannot serve metrics and hooks on ${host}:${options.port}: ${error.code ?? error.message}`,
          { field: "--listen" },
          { cause: error },
        ),
      ),
    );
    server.listen(options.port, host, () => {
      server.removeAllListeners("error");
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shown = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
  const url = `http://${shown.includes(":") ? `[${shown}]` : shown}:${port}`;
  log.info({ url }, "serving /metrics, /healthz, /readyz and /hook/<token>");
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
