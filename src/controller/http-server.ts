import { createHash, timingSafeEqual } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { ConflictError, InvalidInputError } from "../core/errors.js";
import type { Logger } from "../core/log.js";
import { CONTENT_TYPE, type Metrics } from "../status/metrics.js";
import { readPush, type PushEvent } from "./webhook.js";

/** One push receiver: `POST /hook/<token>`, signed with `secret` (or with the token when it has none). */
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
  /** Largest accepted hook payload (default 4 MiB; GitHub sends at most 25 MB, pushes are far smaller). */
  maxBodyBytes?: number;
}

export interface HttpServer {
  /** `http://host:port` with the port actually bound. */
  url: string;
  close(): Promise<void>;
}

const DEFAULT_MAX_BODY = 4 * 1024 * 1024;

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
  if (!/^\d+$/.test(portText) || port > 65_535 || /[[\]\s/]/.test(host) || (host.includes(":") && !text.startsWith("["))) {
    throw new InvalidInputError(`'${value}' is not a listen address: expected :PORT, HOST:PORT or [IPv6]:PORT`, { field });
  }
  return { host: host === "" ? "0.0.0.0" : host, port };
}

/** A token digest, so that tokens of any length compare in constant time. */
function digest(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}

/** The receiver whose token is `token`; every receiver is compared, in constant time. */
function findReceiver(receivers: readonly HookReceiver[], token: string): HookReceiver | undefined {
  const wanted = digest(token);
  let found: HookReceiver | undefined;
  for (const r of receivers) if (timingSafeEqual(digest(r.token), wanted) && !found) found = r;
  return found;
}

function send(res: http.ServerResponse, status: number, body: string, contentType = "text/plain; charset=utf-8"): void {
  res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(body), "cache-control": "no-store" });
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

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? "0");
    if (declared > limit) return reject(new BodyTooLarge());
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners("data");
        req.resume();
        reject(new BodyTooLarge());
      } else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/**
 * The controller's HTTP endpoint: `/metrics` (Prometheus text), `/healthz` (the process answers),
 * `/readyz` (200 once `ready()`, else 503) and `POST /hook/<token>` push webhooks (GitHub, GitLab
 * and generic senders, verified by webhook.ts's readPush). Unknown token 404, bad signature 401,
 * ignored event kinds 202. Tokens, secrets and payloads are never logged: a hook is logged by its
 * sender, status and the repository URLs it names.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const log = options.logger.child({ component: "http" });
  const limit = options.maxBodyBytes ?? DEFAULT_MAX_BODY;

  async function hook(req: http.IncomingMessage, res: http.ServerResponse, token: string): Promise<void> {
    if (req.method !== "POST") {
      res.setHeader("allow", "POST");
      return send(res, 405, "hooks take POST\n");
    }
    const receiver = token ? findReceiver(options.receivers(), token) : undefined;
    let body: Buffer;
    try {
      body = await readBody(req, limit);
    } catch (error) {
      if (error instanceof BodyTooLarge) {
        log.warn({ status: 413, limit }, "hook payload too large");
        res.setHeader("connection", "close");
        return send(res, 413, `payload larger than ${limit} bytes\n`);
      }
      throw error;
    }
    if (!receiver) {
      log.info({ status: 404 }, "hook for an unknown token");
      return send(res, 404, "unknown hook\n");
    }
    // readPush checks the path token against its key and uses that key for the HMAC: the token was
    // matched above, so the key it is given is the receiver's secret (the token when it has none).
    const key = receiver.secret ?? receiver.token;
    const verdict = readPush(key, key, req.headers, body);
    if (!verdict.ok) {
      const level = verdict.status === 202 ? "info" : "warn";
      log[level]({ status: verdict.status, reason: verdict.reason }, "hook refused");
      return send(res, verdict.status, `${verdict.reason}\n`);
    }
    log.info({ sender: verdict.event.sender, urls: verdict.event.urls, ref: verdict.event.ref }, "push received");
    receiver.onPush(verdict.event);
    send(res, 200, `${JSON.stringify({ sender: verdict.event.sender, urls: verdict.event.urls, ...(verdict.event.ref ? { ref: verdict.event.ref } : {}) })}\n`, "application/json");
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
      log.error({ err: { message: (error as Error).message }, path: (req.url ?? "").startsWith("/hook/") ? "/hook/…" : req.url }, "request failed");
      if (!res.headersSent) send(res, 500, "internal error\n");
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  const host = options.host ?? "0.0.0.0";
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(new ConflictError(`cannot serve metrics and hooks on ${host}:${options.port}: ${error.code ?? error.message}`, { field: "--listen" }, { cause: error })),
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
