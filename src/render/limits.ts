import { TooLargeError } from "../core/errors.js";
import type { KubeObject } from "../core/object.js";

/**
 * How large one render's output may be. A kustomization can multiply what it reads (components,
 * generators, a folder of thousands of files); these bound what one unit hands to apply.
 */
export interface RenderLimits {
  /** Objects in one render: `--max-render-objects`. */
  maxObjects: number;
  /** The render as JSON, in bytes: `--max-render-size`. */
  maxBytes: number;
}

const MiB = 1024 * 1024;

export const DEFAULT_RENDER_LIMITS: Readonly<RenderLimits> = Object.freeze({ maxObjects: 20_000, maxBytes: 64 * MiB });

/**
 * The render as JSON text, checked against `limits`: over either, a TooLargeError naming the
 * path and the limit's flag. The text is what crosses from a render worker to the controller.
 */
export function boundedRenderJson(objects: readonly KubeObject[], limits: RenderLimits, path: string): string {
  const where = { file: path || "." };
  if (objects.length > limits.maxObjects) {
    throw new TooLargeError(`the render has ${objects.length} objects, more than ${limits.maxObjects} (--max-render-objects)`, where);
  }
  const json = JSON.stringify(objects);
  // JSON.stringify counts UTF-16 units; the byte count is at least that, so this never lets a larger render through.
  const bytes = json.length <= limits.maxBytes ? Buffer.byteLength(json) : json.length;
  if (bytes > limits.maxBytes) {
    throw new TooLargeError(`the render is ${(bytes / MiB).toFixed(1)} MiB as JSON, more than ${(limits.maxBytes / MiB).toFixed(1)} MiB (--max-render-size)`, where);
  }
  return json;
}
