import type { GitHttpRequest, GitHttpResponse } from "./http-client.js";

type HttpPlugin = { request(req: GitHttpRequest): Promise<GitHttpResponse> };

/**
 * Adds `thin-pack` to the capabilities of a protocol-v0/v1 upload-pack request (its first `want`
 * line). isomorphic-git leaves it out, and without it `git upload-pack` answers a shallow fetch
 * (`deepen 1`) with the whole tree of the new commit even when the client already holds its parent:
 * 5,000 files resent for a one-file change. isomorphic-git resolves a thin pack's outside delta bases
 * from its own object store when it indexes and reads the pack. Other requests pass unchanged.
 */
export function requestThinPack(body: Buffer): Buffer {
  if (body.length < 9 || body.subarray(4, 9).toString("latin1") !== "want ") return body;
  const len = parseInt(body.subarray(0, 4).toString("latin1"), 16);
  if (!Number.isInteger(len) || len < 9 || len > body.length) return body;
  const line = body.subarray(4, len).toString("latin1");
  const nl = line.endsWith("\n") ? "\n" : "";
  const text = nl ? line.slice(0, -1) : line;
  // `want <oid> cap cap…`; a want line with no capabilities gains them only if it had any.
  const parts = text.split(" ");
  if (parts.length < 3 || parts.includes("thin-pack")) return body;
  const rewritten = `${text} thin-pack${nl}`;
  const head = Buffer.from(`${(rewritten.length + 4).toString(16).padStart(4, "0")}${rewritten}`, "latin1");
  return Buffer.concat([head, body.subarray(len)]);
}

/** True when a v0 ref advertisement lists `thin-pack` among the server's capabilities. */
export function advertisesThinPack(advertisement: Buffer): boolean {
  const nul = advertisement.indexOf(0);
  if (nul < 0) return false;
  const end = advertisement.indexOf(0x0a, nul);
  return ` ${advertisement.subarray(nul + 1, end < 0 ? undefined : end).toString("latin1")} `.includes(" thin-pack ");
}

/**
 * Wraps an isomorphic-git HTTP plug-in so that upload-pack requests ask for a thin pack when the
 * server's last advertisement offered one.
 */
export function withThinPack(http: HttpPlugin): HttpPlugin {
  let offered = false;
  return {
    async request(req) {
      const isPost = (req.method ?? "GET") === "POST" && req.url.endsWith("/git-upload-pack");
      if (isPost && offered && req.body) {
        const chunks: Uint8Array[] = [];
        for await (const c of req.body as AsyncIterable<Uint8Array>) chunks.push(c);
        return http.request({ ...req, body: [requestThinPack(Buffer.concat(chunks))] });
      }
      const res = await http.request(req);
      if ((req.method ?? "GET") === "GET" && /\/info\/refs\?service=git-upload-pack$/.test(req.url) && res.body) {
        const parts: Uint8Array[] = [];
        for await (const c of res.body) parts.push(c);
        const body = Buffer.concat(parts);
        offered = advertisesThinPack(body);
        return {
          ...res,
          body: (async function* () {
            if (body.length) yield new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
          })(),
        };
      }
      return res;
    },
  };
}
