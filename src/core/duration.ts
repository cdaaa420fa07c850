import { InvalidInputError, type ErrorLocation } from "./errors.js";

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a Go duration as Flux writes them (`1m0s`, `10m`, `1h30m`, `500ms`) into milliseconds.
 * Errors name the field; `location` says where the value came from.
 */
export function parseDuration(value: string, location: ErrorLocation = {}): number {
  const text = value.trim();
  if (text === "0") return 0;
  const part = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let index = 0;
  while (index < text.length) {
    part.lastIndex = index;
    const match = part.exec(text);
    if (!match) break;
    total += Number(match[1]) * UNIT_MS[match[2]!]!;
    index = part.lastIndex;
  }
  if (index !== text.length || text.length === 0) {
    throw new InvalidInputError(`'${value}' is not a duration (examples: 30s, 5m, 1h30m)`, location);
  }
  return total;
}

/** Milliseconds as a Go duration string (`1m30s`), the form Flux prints. */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  return `${h ? `${h}h` : ""}${h || m ? `${m}m` : ""}${Number.isInteger(s) ? s : s.toFixed(3)}s`;
}
