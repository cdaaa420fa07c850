import { readFile, readdir } from "node:fs/promises";
import { basename, join } from "node:path";
import type { GitHttpRequest, GitHttpResponse } from "./http-client.js";

type HttpPlugin = { request(req: GitHttpRequest): Promise<GitHttpResponse> };

/**
 * Tunes a protocol-v0/v1 upload-pack request from isomorphic-git (other requests pass unchanged):
 *
 * - `thin-pack` joins the capabilities of the first `want` line. isomorphic-git leaves it out, and
 *   without it `git upload-pack` answers a shallow fetch (`deepen 1`) with the whole tree of the new
 *   commit even when the client holds its parent: 5,000 files resent for a one-file change.
 *   isomorphic-git resolves a thin pack's outside delta bases from its own object store.
 * - every commit the client names in a `shallow` line is also offered as `have`. isomorphic-git
 *   offers only the one ref it was given, so the server believed objects of the other fetched
 *   commits missing and sent them again — as deltas against objects the client holds. Two copies of
 *   one object in two packs, each a delta against the other, send isomorphic-git's object reader
 *   into an endless loop. With every held commit offered, the server sends only what is missing.
 */
export function tuneUploadPackRequest(body: Buffer): Buffer {
  const packets: Buffer[] = [];
  let at = 0;
  while (at + 4 <= body.length) {
    const len = parseInt(body.subarray(at, at + 4).toString("latin1"), 16);
    if (!Number.isInteger(len) || (len > 0 && len < 4) || at + Math.max(len, 4) > body.length) return body;
    packets.push(body.subarray(at, at + Math.max(len, 4)));
    at += Math.max(len, 4);
  }
  if (at !== body.length || packets.length === 0) return body;
  const text = (p: Buffer) => p.subarray(4).toString("latin1").replace(/\n$/, "");
  if (!text(packets[0]!).startsWith("want ")) return body;
  const encode = (line: string) => Buffer.from(`${(line.length + 4).toString(16).padStart(4, "0")}${line}`, "latin1");
  const first = text(packets[0]!).split(" ");
  if (first.length >= 3 && !first.includes("thin-pack")) packets[0] = encode(`${first.join(" ")} thin-pack\n`);
  const shallows = packets
    .map(text)
    .filter((l) => l.startsWith("shallow "))
    .map((l) => l.slice(8));
  const haves = new Set(
    packets
      .map(text)
      .filter((l) => l.startsWith("have "))
      .map((l) => l.slice(5)),
  );
  const done = packets.findIndex((p) => text(p) === "done");
  const extra = shallows.filter((oid) => !haves.has(oid)).map((oid) => encode(`have ${oid}\n`));
  if (done >= 0 && extra.length > 0) packets.splice(done, 0, ...extra);
  return Buffer.concat(packets);
}

/** True when a v0 ref advertisement lists `thin-pack` among the server's capabilities. */
export function advertisesThinPack(advertisement: Buffer): boolean {
  const nul = advertisement.indexOf(0);
  if (nul < 0) return false;
  const end = advertisement.indexOf(0x0a, nul);
  return ` ${advertisement.subarray(nul + 1, end < 0 ? undefined : end).toString("latin1")} `.includes(" thin-pack ");
}

/**
 * Wraps an isomorphic-git HTTP plug-in so that upload-pack requests are tuned as above when the
 * server's last advertisement offered thin packs.
 */
export function withThinPack(http: HttpPlugin, enabled = true): HttpPlugin {
  if (!enabled) return http;
  let offered = false;
  return {
    async request(req) {
      const isPost = (req.method ?? "GET") === "POST" && req.url.endsWith("/git-upload-pack");
      if (isPost && offered && req.body) {
        const chunks: Uint8Array[] = [];
        for await (const c of req.body as AsyncIterable<Uint8Array>) chunks.push(c);
        return http.request({ ...req, body: [tuneUploadPackRequest(Buffer.concat(chunks))] });
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

/** The object ids a pack index (version 2) lists. */
export async function packIndexOids(idxFile: string): Promise<string[]> {
  const idx = await readFile(idxFile);
  if (idx.readUInt32BE(0) !== 0xff744f63 || idx.readUInt32BE(4) !== 2)
    throw new Error(`${idxFile} is not a version-2 pack index`);
  const count = idx.readUInt32BE(8 + 255 * 4);
  const start = 8 + 256 * 4;
  const oids: string[] = [];
  for (let i = 0; i < count; i++) oids.push(idx.subarray(start + i * 20, start + (i + 1) * 20).toString("hex"));
  return oids;
}

/**
 * How many objects of a just-fetched pack (`objects/pack/pack-….pack`, relative to `gitdir`) the
 * store's other packs already hold. A thin pack that resends held objects can deltify each copy
 * against the other, which isomorphic-git cannot read; such a pack is dropped and fetched again
 * without thin-pack (see GitSource).
 */
export async function resentObjects(gitdir: string, packfile: string): Promise<number> {
  const dir = join(gitdir, "objects", "pack");
  const fresh = basename(packfile).replace(/\.pack$/, ".idx");
  const held = new Set<string>();
  for (const name of await readdir(dir))
    if (name.endsWith(".idx") && name !== fresh) for (const oid of await packIndexOids(join(dir, name))) held.add(oid);
  return (await packIndexOids(join(dir, fresh))).filter((oid) => held.has(oid)).length;
}
