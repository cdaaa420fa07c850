import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import { constants, inflateSync } from "node:zlib";

/**
 * The inflated size of a git object, read from its header without inflating the object: a loose
 * object starts with `<type> <size>\0`; a packed one has its size in the pack entry's header, or, for
 * a delta, at the start of the delta. So a 400 MiB blob of zeros (400 KiB in the pack) can be
 * refused before it is inflated. Returns undefined where the store cannot say (the caller then
 * reads the object and measures it).
 */
export class ObjectSizes {
  private packs: PackIndex[] | undefined;

  constructor(private readonly gitdir: string) {}

  sizeOf(oid: string): number | undefined {
    try {
      return this.looseSize(oid) ?? this.packedSize(oid);
    } catch {
      return undefined;
    }
  }

  private looseSize(oid: string): number | undefined {
    const path = join(this.gitdir, "objects", oid.slice(0, 2), oid.slice(2));
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch {
      return undefined;
    }
    try {
      const head = Buffer.alloc(256);
      const n = readSync(fd, head, 0, head.length, 0);
      const text = inflatePrefix(head.subarray(0, n)).subarray(0, 64).toString("latin1");
      const m = /^[a-z]+ (\d+)\0/.exec(text);
      return m ? Number(m[1]) : undefined;
    } finally {
      closeSync(fd);
    }
  }

  private packedSize(oid: string): number | undefined {
    this.packs ??= readdirSync(join(this.gitdir, "objects", "pack"))
      .filter((f) => f.endsWith(".idx"))
      .map((f) => new PackIndex(join(this.gitdir, "objects", "pack", f)));
    for (const pack of this.packs) {
      const offset = pack.offsetOf(oid);
      if (offset !== undefined) return entrySize(pack.packPath, offset);
    }
    return undefined;
  }
}

/** Inflates as much of a zlib stream's start as `bytes` holds. */
function inflatePrefix(bytes: Buffer): Buffer {
  return inflateSync(bytes, { finishFlush: constants.Z_SYNC_FLUSH });
}

/** A pack's `.idx` (version 2): object ids in sorted order, and each one's offset in the `.pack`. */
class PackIndex {
  readonly packPath: string;
  private readonly idx: Buffer;
  private readonly count: number;

  constructor(path: string) {
    this.packPath = path.replace(/\.idx$/, ".pack");
    this.idx = readFileSync(path);
    if (this.idx.readUInt32BE(0) !== 0xff744f63 || this.idx.readUInt32BE(4) !== 2)
      throw new Error(`${path}: not a version 2 pack index`);
    this.count = this.idx.readUInt32BE(8 + 255 * 4);
  }

  offsetOf(oid: string): number | undefined {
    const id = Buffer.from(oid, "hex");
    const first = id[0]!;
    let lo = first === 0 ? 0 : this.idx.readUInt32BE(8 + (first - 1) * 4);
    let hi = this.idx.readUInt32BE(8 + first * 4);
    const names = 8 + 256 * 4;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const cmp = this.idx.compare(id, 0, 20, names + mid * 20, names + mid * 20 + 20);
      if (cmp === 0) return this.offsetAt(mid);
      if (cmp > 0) hi = mid;
      else lo = mid + 1;
    }
    return undefined;
  }

  private offsetAt(i: number): number {
    const offsets = 8 + 256 * 4 + this.count * 24;
    const small = this.idx.readUInt32BE(offsets + i * 4);
    if ((small & 0x80000000) === 0) return small;
    const large = offsets + this.count * 4 + (small & 0x7fffffff) * 8;
    return Number(this.idx.readBigUInt64BE(large));
  }
}

const OFS_DELTA = 6;
const REF_DELTA = 7;

/** The inflated size of the pack entry at `offset`: from its header, or a delta's result size. */
function entrySize(packPath: string, offset: number): number | undefined {
  const fd = openSync(packPath, "r");
  try {
    const buf = Buffer.alloc(Math.min(512, statSync(packPath).size - offset));
    readSync(fd, buf, 0, buf.length, offset);
    let pos = 0;
    let byte = buf[pos++]!;
    const type = (byte >> 4) & 7;
    let size = byte & 15;
    let shift = 4;
    while (byte & 0x80) {
      byte = buf[pos++]!;
      size += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    }
    if (type !== OFS_DELTA && type !== REF_DELTA) return size;
    if (type === OFS_DELTA) while (buf[pos++]! & 0x80);
    else pos += 20;
    // A delta starts with two sizes (base, then result), little-endian base-128.
    const delta = inflatePrefix(buf.subarray(pos));
    let at = 0;
    const varint = (): number => {
      let value = 0;
      let s = 0;
      let b: number;
      do {
        b = delta[at++]!;
        value += (b & 0x7f) * 2 ** s;
        s += 7;
      } while (b & 0x80);
      return value;
    };
    varint();
    return varint();
  } finally {
    closeSync(fd);
  }
}
