/**
 * The render worker's thread: renders one path of a tree per message and answers with the render
 * as JSON (bounded by the render limits) with its read set, or the error. Loaded by RenderWorkers only.
 */
import { parentPort } from "node:worker_threads";
import { MemoryTree, RecordingTree } from "../core/file-tree.js";
import { renderFlux } from "../render/index.js";
import { boundedRenderJson } from "../render/limits.js";
import { serializeError, unpackTree, type RenderRequest, type RenderReply } from "./render-worker-protocol.js";

const trees = new Map<number, MemoryTree>();

parentPort!.on("message", (request: RenderRequest) => {
  let reply: RenderReply;
  try {
    const tree = new RecordingTree(treeOf(request));
    const json = boundedRenderJson(renderFlux(tree, request.path, request.spec), request.limits, request.path);
    reply = { id: request.id, json, reads: tree.reads() };
  } catch (error) {
    reply = { id: request.id, error: serializeError(error instanceof Error ? error : new Error(String(error))) };
  }
  parentPort!.postMessage(reply);
});

/** The request's tree, rebuilt once per tree and kept for the renders of the same revision that follow. */
function treeOf(request: RenderRequest): MemoryTree {
  let tree = trees.get(request.tree.id);
  if (!tree) {
    tree = unpackTree(request.tree);
    // A few revisions' trees; their bytes live in shared memory the controller holds anyway.
    if (trees.size >= 8) trees.delete(trees.keys().next().value!);
    trees.set(request.tree.id, tree);
  }
  return tree;
}
