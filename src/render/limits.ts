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
 * path and the limit's flag. Objects are serialized one at a time and counting stops at the limit,
 * so an oversized render never becomes one oversized string (in a worker with a heap limit, one
 * allocation far past it is fatal to the whole process, not only to the worker). The text is what
 * crosses from a render worker to the controller.
 */
export function boundedRenderJson(objects: readonly KubeObject[], limits: RenderLimits, path: string): string {
  const where = { file: path || "." };
  if (objects.length > limits.maxObjects) {
    throw new TooLargeError(
      `the render has ${objects.length} objects, more than ${limits.maxObjects} (--max-render-objects)`,
      where,
    );
  }
  const parts: string[] = [];
  let bytes = 2;
  for (const object of objects) {
    const json = JSON.stringify(object);
    bytes += Buffer.byteLength(json) + 1;
    if (bytes > limits.maxBytes) {
      throw new TooLargeError(`the render is larger than ${size(limits.maxBytes)} as JSON (--max-render-size)`, where);
    }
    parts.push(json);
  }
  return `[${parts.join(",")}]`;
}

const size = (n: number): string => (n >= MiB ? `${Number((n / MiB).toFixed(1))} MiB` : `${n} bytes`);
