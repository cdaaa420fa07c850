import http from "node:http";
import https from "node:https";

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
}

/**
 * An isomorphic-git HTTP client on node:http(s) with keep-alive, a private CA, extra headers and
 * cancellation. The response body is buffered: smart-HTTP responses for one fetch are bounded by
 * the pack that fetch asked for.
 */
export function makeHttpClient(options: HttpClientOptions = {}): { request(req: GitHttpRequest): Promise<GitHttpResponse> } {
  const httpsAgent = new https.Agent({ keepAlive: true, ...(options.ca ? { ca: options.ca } : {}) });
  const httpAgent = new http.Agent({ keepAlive: true });
  return {
    async request(req) {
      const chunks: Uint8Array[] = [];
      if (req.body) for await (const chunk of req.body as AsyncIterable<Uint8Array>) chunks.push(chunk);
      const url = new URL(req.url);
      const isHttps = url.protocol === "https:";
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
            const parts: Buffer[] = [];
            res.on("data", (d: Buffer) => parts.push(d));
            res.on("error", reject);
            res.on("end", () => {
              const body = Buffer.concat(parts);
              const headers: Record<string, string> = {};
              for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(", ") : v;
              resolve({
                url: req.url,
                method: req.method ?? "GET",
                headers,
                statusCode: res.statusCode ?? 0,
                statusMessage: res.statusMessage ?? "",
                body: (async function* () {
                  if (body.length) yield new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
                })(),
              });
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
