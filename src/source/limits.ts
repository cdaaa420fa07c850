/**
 * How much of a git source Flotilla reads. Flux bounds what it unpacks (fluxcd/pkg/tar: 100 MiB per
 * artifact) and what it downloads for Helm (a file of a chart: 5 MiB); these are the same idea for a
 * git source read without a checkout, each with a controller flag.
 */
export interface SourceLimits {
  /** The files of one artifact together (after ignore rules), and a fetch's pack: `--max-artifact-size`. */
  maxArtifactBytes: number;
  /** One file of an artifact: `--max-file-size`. Larger files are not inflated; reading one fails. */
  maxFileBytes: number;
  /** A server's ref advertisement or ref listing: `--max-refs-size`. */
  maxRefsBytes: number;
}

const MiB = 1024 * 1024;

export const DEFAULT_SOURCE_LIMITS: Readonly<SourceLimits> = Object.freeze({
  maxArtifactBytes: 100 * MiB,
  maxFileBytes: 16 * MiB,
  maxRefsBytes: 32 * MiB,
});

/** A byte count for messages: `400 MiB`, `1.5 KiB`, `12 bytes`. */
export function formatBytes(n: number): string {
  const units: Array<[number, string]> = [
    [1024 * MiB, "GiB"],
    [MiB, "MiB"],
    [1024, "KiB"],
  ];
  for (const [size, unit] of units) if (n >= size) return `${Number((n / size).toFixed(1))} ${unit}`;
  return `${n} bytes`;
}
