import { inflateSync } from "node:zlib";
import { TooLargeError } from "../core/errors.js";
import { formatBytes } from "./limits.js";

/**
 * Throws a TooLargeError naming `source` when the upload-pack `response` holds an object larger
 * than the whole artifact may be: refused before isomorphic-git inflates it to index the pack.
 * (Smaller files over --max-file-size are fetched and then never read: see materializeCommit.)
 */
export function assertPackWithinLimit(response: Buffer, maxArtifactBytes: number, source: string): void {
  const size = oversizedObject(response, maxArtifactBytes);
  if (size === undefined) return;
  const what = size > maxArtifactBytes + 1 ? formatBytes(size) : `over ${formatBytes(maxArtifactBytes)}`;
  throw new TooLargeError(
    `${source}: the fetched pack holds an object of ${what}, larger than the artifact may be, ${formatBytes(maxArtifactBytes)} (--max-artifact-size); the commit is not fetched`,
    { object: source },
  );
}

/**
 * The largest object a fetch's pack would inflate to, found before isomorphic-git indexes the pack
 * (which inflates every object whole: a 400 KB pack holding 400 MB of zeros costs 400 MB there).
 * `response` is an upload-pack response: pkt-lines, the pack in side-band 1. Each entry's size is
 * read from its header (a delta's from the start of its data); no entry is inflated past
 * `limit + 1` bytes. Returns the first size over `limit`, or undefined when every object is within
 * it or the response is not one this reader knows (isomorphic-git then reads it as before).
 */
export function oversizedObject(response: Buffer, limit: number): number | undefined {
  const pack = sideBandPack(response);
  if (!pack || pack.length < 12 || pack.toString("latin1", 0, 4) !== "PACK") return undefined;
  const count = pack.readUInt32BE(8);
  let pos = 12;
  for (let i = 0; i < count && pos < pack.length; i++) {
    let byte = pack[pos++]!;
    const type = (byte >> 4) & 7;
    let size = byte & 15;
    let shift = 4;
    while (byte & 0x80) {
      byte = pack[pos++]!;
      size += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    }
    if (type === 6) while (pack[pos++]! & 0x80);
    else if (type === 7) pos += 20;
    const isDelta = type === 6 || type === 7;
    if (!isDelta && size > limit) return size;
    let inflated: { buffer: Buffer; engine: { bytesWritten: number } };
    try {
      // maxOutputLength: a header that lies about a small size cannot make this inflate much.
      inflated = inflateSync(pack.subarray(pos), {
        info: true,
        maxOutputLength: limit + 1,
      }) as unknown as typeof inflated;
    } catch (error) {
      if ((error as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") return limit + 1;
      return undefined;
    }
    if (isDelta) {
      const result = deltaResultSize(inflated.buffer);
      if (result > limit) return result;
    }
    pos += inflated.engine.bytesWritten;
  }
  return undefined;
}

/** The pack bytes of an upload-pack response (side-band 1), or undefined when it has no side band. */
function sideBandPack(response: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let pos = 0;
  while (pos + 4 <= response.length) {
    const length = Number.parseInt(response.toString("latin1", pos, pos + 4), 16);
    if (Number.isNaN(length)) return undefined;
    if (length < 4) {
      pos += 4; // flush and delimiter packets
      continue;
    }
    const payload = response.subarray(pos + 4, pos + length);
    if (payload[0] === 1) parts.push(payload.subarray(1));
    pos += length;
  }
  return parts.length > 0 ? Buffer.concat(parts) : undefined;
}

/** A delta starts with the base's size, then the result's, each little-endian base-128. */
function deltaResultSize(delta: Buffer): number {
  let at = 0;
  const varint = (): number => {
    let value = 0;
    let shift = 0;
    let b: number;
    do {
      b = delta[at++] ?? 0;
      value += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    return value;
  };
  varint();
  return varint();
}
