import { createHash } from "node:crypto";

/**
 * Render once: units that render the same path of the same source revision with the same options
 * share one render, including one that is still running. Entries of revisions no source points at
 * any more are dropped with `retainRevisions`.
 */
export class RenderCache<T> {
  private readonly entries = new Map<string, { revision: string; value: Promise<T> }>();
  private hitCount = 0;
  private missCount = 0;

  /** The key of a render: its source revision, its path and a digest of its options. */
  static key(revision: string, path: string, options: unknown): string {
    return `${revision}\u0000${path}\u0000${digest(options)}`;
  }

  /** The cached render for `key`, computing it once; a failed render is not kept. */
  get(key: string, revision: string, compute: () => Promise<T> | T): Promise<T> {
    const hit = this.entries.get(key);
    if (hit) {
      this.hitCount++;
      return hit.value;
    }
    this.missCount++;
    const value = Promise.resolve().then(compute);
    this.entries.set(key, { revision, value });
    value.catch(() => {
      if (this.entries.get(key)?.value === value) this.entries.delete(key);
    });
    return value;
  }

  /** Drops renders of every revision not in `revisions`. */
  retainRevisions(revisions: ReadonlySet<string>): void {
    for (const [key, entry] of this.entries) if (!revisions.has(entry.revision)) this.entries.delete(key);
  }

  stats(): { entries: number; hits: number; misses: number } {
    return { entries: this.entries.size, hits: this.hitCount, misses: this.missCount };
  }
}

/** A digest of JSON-shaped data that does not depend on key order. */
export function digest(value: unknown): string {
  return createHash("sha256").update(canonicalJson(value)).digest("hex").slice(0, 32);
}

/** JSON with object keys sorted, for digests. */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}
