import { FlotillaError, type ErrorLocation } from "../core/errors.js";
import { MemoryTree } from "../core/file-tree.js";
import type { RenderLimits } from "../render/limits.js";
import type { FluxRenderSpec } from "./ports.js";

/**
 * A tree as it crosses to a render worker: every file's bytes in one SharedArrayBuffer (structured
 * clone shares it, so a render does not copy the repository) plus where each file lies in it.
 */
export interface PackedTree {
  id: number;
  label: string;
  bytes: SharedArrayBuffer;
  /** path, offset, length */
  files: Array<[string, number, number]>;
  symlinks: Array<[string, string]>;
  /** Files the source would not read, with the error reading them gives. */
  unread: Array<[string, SerializedError]>;
}

export interface SerializedError {
  code: string;
  message: string;
  location: ErrorLocation;
}

export interface RenderRequest {
  id: number;
  tree: PackedTree;
  path: string;
  spec: FluxRenderSpec;
  limits: RenderLimits;
}

/** A render as JSON with its read set (what it asked of the tree, see RecordingTree), or its error. */
export type RenderReply = { id: number; json: string; reads: string[] } | { id: number; error: SerializedError };

let nextTreeId = 1;

/** Packs a tree's snapshot into shared memory. */
export function packTree(tree: MemoryTree): PackedTree {
  const [files, symlinks, unread] = tree.snapshot();
  const size = files.reduce((n, [, b]) => n + b.byteLength, 0);
  const bytes = new SharedArrayBuffer(size);
  const view = new Uint8Array(bytes);
  const index: Array<[string, number, number]> = [];
  let offset = 0;
  for (const [path, content] of files) {
    view.set(content, offset);
    index.push([path, offset, content.byteLength]);
    offset += content.byteLength;
  }
  return {
    id: nextTreeId++,
    label: tree.label,
    bytes,
    files: index,
    symlinks,
    unread: unread.map(([path, error]) => [path, serializeError(error())]),
  };
}

export function unpackTree(packed: PackedTree): MemoryTree {
  const files = packed.files.map(([path, offset, length]): [string, Uint8Array] => [
    path,
    new Uint8Array(packed.bytes, offset, length),
  ]);
  const unread = packed.unread.map(([path, e]): [string, () => Error] => [path, () => deserializeError(e)]);
  return new MemoryTree(packed.label, files, packed.symlinks, unread);
}

export function serializeError(error: Error): SerializedError {
  return error instanceof FlotillaError
    ? { code: error.code, message: error.message, location: error.location }
    : { code: "Internal", message: error.message, location: {} };
}

export function deserializeError(e: SerializedError): FlotillaError {
  return new FlotillaError(e.code, e.message, e.location);
}
