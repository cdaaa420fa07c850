import http from "node:http";
import https from "node:https";
import { TooLargeError } from "../core/errors.js";
import { DEFAULT_SOURCE_LIMITS, formatBytes, type SourceLimits } from "./limits.js";
import { assertPackWithinLimit } from "./pack-scan.js";

/** The request and response shapes isomorphic-git's `http` plug-in speaks. */
export interface GitHttpRequest {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: AsyncIterable<Uint8Array> | Uint8Array[];
}
export interface GitHttpResponse {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: AsyncIterableIterator<Uint8Array>;
  statusCode: number;
  statusMessage: string;
}

export interface HttpClientOptions {
  /** PEM bundle of a private CA (a GitRepository Secret's `ca.crt`). */
  ca?: string;
  /** Extra headers on every request (a bearer token). */
  headers?: Record<string, string>;
  /** Aborts everything in flight (operation timeouts). */
  signal?: AbortSignal;
  /** The source, for messages (a URL without credentials). */
  source?: string;
  /** Response bounds: ref advertisements and listings by `maxRefsBytes`; packs, and each object in one, by `maxArtifactBytes`. */
  limits?: Pick<SourceLimits, "maxRefsBytes" | "maxArtifactBytes">;
}

/**
 * An isomorphic-git HTTP client on node:http(s) with keep-alive, a private CA, extra headers and
 * cancellation. Response bodies stream to isomorphic-git as they arrive, and each is cut off, with
 * a TooLargeError naming the source, what was being read and the limit's flag, once it passes its
 * limit: a server that advertises refs without end costs at most the limit, not the whole response.
 */
export function makeHttpClient(options: HttpClientOptions = {}): {
  request(req: GitHttpRequest): Promise<GitHttpResponse>;
} {
  const httpsAgent = new https.Agent({ keepAlive: true, ...(options.ca ? { ca: options.ca } : {}) });
  const httpAgent = new http.Agent({ keepAlive: true });
  const limits = options.limits ?? DEFAULT_SOURCE_LIMITS;
  return {
    async request(req) {
      const chunks: Uint8Array[] = [];
      if (req.body) for await (const chunk of req.body as AsyncIterable<Uint8Array>) chunks.push(chunk);
      const url = new URL(req.url);
      const isHttps = url.protocol === "https:";
      const what = responseKind(req.method ?? "GET", chunks);
      const limit =
        what === "pack"
          ? { bytes: limits.maxArtifactBytes, flag: "--max-artifact-size" }
          : { bytes: limits.maxRefsBytes, flag: "--max-refs-size" };
      const source = options.source ?? `${url.origin}${url.pathname.replace(/\/(info\/refs|git-upload-pack)$/, "")}`;
      return new Promise<GitHttpResponse>((resolve, reject) => {
        if (options.signal?.aborted) return reject(options.signal.reason as Error);
        const request = (isHttps ? https : http).request(
          url,
          {
            method: req.method ?? "GET",
            headers: { ...req.headers, ...options.headers },
            agent: isHttps ? httpsAgent : httpAgent,
            ...(options.signal ? { signal: options.signal } : {}),
          },
          (res) => {
            const headers: Record<string, string> = {};
            for (const [k, v] of Object.entries(res.headers))
              if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(", ") : v;
            const declared = Number(res.headers["content-length"] ?? NaN);
            const tooLarge = () =>
              new TooLargeError(
                `${source}: the server's ${what} is larger than ${formatBytes(limit.bytes)} (${limit.flag})`,
                {
                  object: source,
                },
              );
            if (declared > limit.bytes) {
              res.destroy();
              return reject(tooLarge());
            }
            resolve({
              url: req.url,
              method: req.method ?? "GET",
              headers,
              statusCode: res.statusCode ?? 0,
              statusMessage: res.statusMessage ?? "",
              body:
                what === "pack"
                  ? checkedPack(bounded(res, limit.bytes, tooLarge), limits.maxArtifactBytes, source)
                  : bounded(res, limit.bytes, tooLarge),
            });
          },
        );
        request.on("error", reject);
        for (const c of chunks) request.write(c);
        request.end();
      });
    },
  };
}

/** What a smart-HTTP response carries: refs (`info/refs`, protocol v2's `ls-refs`) or a pack. */
export function responseKind(
  method: string,
  body: readonly Uint8Array[],
): "ref advertisement" | "ref listing" | "pack" {
  if (method === "GET") return "ref advertisement";
  // A protocol v2 request starts with a pkt-line `command=<name>`.
  const head = Buffer.from(body[0] ?? new Uint8Array())
    .subarray(0, 32)
    .toString("latin1");
  return head.slice(4).startsWith("command=ls-refs") ? "ref listing" : "pack";
}

/** A pack response, held whole (isomorphic-git holds it whole too) and checked (assertPackWithinLimit) before it is passed on. */
async function* checkedPack(
  body: AsyncIterableIterator<Uint8Array>,
  maxArtifactBytes: number,
  source: string,
): AsyncIterableIterator<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  const response = Buffer.concat(chunks);
  assertPackWithinLimit(response, maxArtifactBytes, source);
  yield new Uint8Array(response.buffer, response.byteOffset, response.byteLength);
}

/** The response's chunks as they arrive, failing with `error()` (and dropping the connection) past `limit` bytes. */
async function* bounded(
  res: http.IncomingMessage,
  limit: number,
  error: () => Error,
): AsyncIterableIterator<Uint8Array> {
  let total = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    total += chunk.byteLength;
    if (total > limit) {
      res.destroy();
      throw error();
    }
    yield new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
}
