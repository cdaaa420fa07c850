import { InvalidInputError } from "../core/errors.js";
import { parseDuration } from "../core/duration.js";
import { DEFAULT_RENDER_MEMORY_MB, DEFAULT_RENDER_TIMEOUT_MS, type RenderWorkerOptions } from "../controller/index.js";
import { DEFAULT_RENDER_LIMITS } from "../render/index.js";
import { DEFAULT_SOURCE_LIMITS, type SourceLimits } from "../source/index.js";

/** The controller's size and time limits, as parseArgs options (README, "Limits"). */
export const LIMIT_FLAGS = {
  "max-artifact-size": { type: "string" },
  "max-file-size": { type: "string" },
  "max-refs-size": { type: "string" },
  "max-render-objects": { type: "string" },
  "max-render-size": { type: "string" },
  "render-timeout": { type: "string" },
  "render-memory": { type: "string" },
} as const;

type LimitValues = Partial<Record<keyof typeof LIMIT_FLAGS, string>>;

/** The limits the flags set, each defaulted where not given. */
export function parseLimitFlags(values: LimitValues): { sourceLimits: SourceLimits; render: RenderWorkerOptions } {
  const sourceLimits: SourceLimits = {
    maxArtifactBytes: bytes(values["max-artifact-size"], DEFAULT_SOURCE_LIMITS.maxArtifactBytes, "--max-artifact-size"),
    maxFileBytes: bytes(values["max-file-size"], DEFAULT_SOURCE_LIMITS.maxFileBytes, "--max-file-size"),
    maxRefsBytes: bytes(values["max-refs-size"], DEFAULT_SOURCE_LIMITS.maxRefsBytes, "--max-refs-size"),
  };
  const render: RenderWorkerOptions = {
    limits: {
      maxObjects: count(values["max-render-objects"], DEFAULT_RENDER_LIMITS.maxObjects, "--max-render-objects"),
      maxBytes: bytes(values["max-render-size"], DEFAULT_RENDER_LIMITS.maxBytes, "--max-render-size"),
    },
    timeoutMs:
      values["render-timeout"] === undefined
        ? DEFAULT_RENDER_TIMEOUT_MS
        : duration(values["render-timeout"], "--render-timeout"),
    memoryMb: Math.ceil(
      bytes(values["render-memory"], DEFAULT_RENDER_MEMORY_MB * 1024 * 1024, "--render-memory") / (1024 * 1024),
    ),
  };
  return { sourceLimits, render };
}

const UNITS: Record<string, number> = {
  "": 1,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  k: 1000,
  M: 1000 ** 2,
  G: 1000 ** 3,
};

/** A size as Kubernetes quantities write it: `100Mi`, `512Ki`, `1G`, or bytes. */
function bytes(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const m = /^(\d+)(Ki|Mi|Gi|k|M|G)?$/.exec(value.trim());
  if (!m || Number(m[1]) <= 0)
    throw new InvalidInputError(`${flag} must be a size such as 100Mi, 512Ki or 1G, not '${value}'`, { field: flag });
  return Number(m[1]) * UNITS[m[2] ?? ""]!;
}

function count(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidInputError(`${flag} must be a positive integer, not '${value}'`, { field: flag });
  return n;
}

function duration(value: string, flag: string): number {
  try {
    const ms = parseDuration(value);
    if (ms > 0) return ms;
  } catch {
    // reported below
  }
  throw new InvalidInputError(`${flag} must be a duration such as 30s or 2m, not '${value}'`, { field: flag });
}
