import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import { TimeoutError, TooLargeError } from "../core/errors.js";
import { MemoryTree, RecordingTree, type FileTree } from "../core/file-tree.js";
import { silentLogger } from "../core/log.js";
import type { KubeObject } from "../core/object.js";
import { renderFlux } from "../render/index.js";
import { boundedRenderJson, DEFAULT_RENDER_LIMITS, type RenderLimits } from "../render/limits.js";
import type { FluxRenderSpec, RecordedRender } from "./ports.js";
import {
  deserializeError,
  packTree,
  type PackedTree,
  type RenderReply,
  type RenderRequest,
} from "./render-worker-protocol.js";

export interface RenderWorkerOptions {
  /** Threads rendering at once. */
  workers?: number;
  /** A render that runs longer is stopped (its worker terminated): `--render-timeout`. */
  timeoutMs?: number;
  /** The V8 heap a worker may use, in MiB (resourceLimits.maxOldGenerationSizeMb): `--render-memory`. */
  memoryMb?: number;
  limits?: RenderLimits;
  /** The compiled worker script; by default the one beside this module. */
  script?: URL;
  logger?: Logger;
}

export const DEFAULT_RENDER_TIMEOUT_MS = 30_000;
export const DEFAULT_RENDER_MEMORY_MB = 256;

interface Job {
  request: Omit<RenderRequest, "id">;
  resolve: (render: RecordedRender) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  job?: { id: number; job: Job; timer: NodeJS.Timeout };
}

/**
 * Renders off the controller's event loop: a few worker threads, each with a heap limit, and a
 * timeout per render that terminates its worker. A render that runs away (an alias bomb past the
 * parser's guard, a kustomization that multiplies objects) fails only the units that share it,
 * while /healthz, webhooks and other units keep being served. Render stays pure; this is the edge.
 */
export class RenderWorkers {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private readonly packed = new WeakMap<MemoryTree, PackedTree>();
  private readonly timeoutMs: number;
  private readonly memoryMb: number;
  private readonly limits: RenderLimits;
  private readonly size: number;
  private readonly script: URL | undefined;
  private readonly log: Logger;
  private nextId = 1;
  private closed = false;

  constructor(options: RenderWorkerOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_RENDER_TIMEOUT_MS;
    this.memoryMb = options.memoryMb ?? DEFAULT_RENDER_MEMORY_MB;
    this.limits = options.limits ?? DEFAULT_RENDER_LIMITS;
    this.size = Math.max(1, options.workers ?? 2);
    this.script = options.script ?? defaultScript();
    this.log = options.logger ?? silentLogger;
    if (!this.script)
      this.log.debug(
        "no compiled render worker beside this module (running from sources); renders run on the event loop",
      );
  }

  /** Renders `path` of `tree` with `spec` in a worker; trees that are not in memory render here. */
  async render(tree: FileTree, path: string, spec: FluxRenderSpec): Promise<KubeObject[]> {
    return (await this.renderRecorded(tree, path, spec)).objects;
  }

  /** `render`, with the render's read set. */
  renderRecorded(tree: FileTree, path: string, spec: FluxRenderSpec): Promise<RecordedRender> {
    if (this.closed) return Promise.reject(new Error("the render workers are stopped"));
    if (!(tree instanceof MemoryTree) || !this.script) {
      return Promise.resolve().then(() => {
        const recording = new RecordingTree(tree);
        const objects = JSON.parse(
          boundedRenderJson(renderFlux(recording, path, spec), this.limits, path),
        ) as KubeObject[];
        return { objects, reads: recording.reads() };
      });
    }
    let packedTree = this.packed.get(tree);
    if (!packedTree) this.packed.set(tree, (packedTree = packTree(tree)));
    return new Promise<RecordedRender>((resolve, reject) => {
      this.queue.push({ request: { tree: packedTree, path, spec, limits: this.limits }, resolve, reject });
      this.dispatch();
    });
  }

  /** Terminates every worker; renders in flight fail. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new Error("the render workers are stopped"));
    await Promise.all(
      this.slots.splice(0).map((slot) => this.retire(slot, new Error("the render workers are stopped"))),
    );
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => !s.job);
      if (!slot && this.slots.length < this.size) slot = this.spawn();
      if (!slot) return;
      const job = this.queue.shift()!;
      const id = this.nextId++;
      const timer = setTimeout(() => this.stopRunaway(slot!, id), this.timeoutMs);
      slot.job = { id, job, timer };
      slot.worker.postMessage({ id, ...job.request } satisfies RenderRequest);
    }
  }

  private spawn(): Slot {
    const worker = new Worker(this.script!, { resourceLimits: { maxOldGenerationSizeMb: this.memoryMb } });
    const slot: Slot = { worker };
    worker.on("message", (reply: RenderReply) => this.settle(slot, reply));
    worker.on("error", (error: Error & { code?: string }) => {
      const job = slot.job;
      const failure =
        error.code === "ERR_WORKER_OUT_OF_MEMORY" && job
          ? new TooLargeError(
              `rendering '${job.job.request.path || "."}' of ${job.job.request.tree.label} needed more than ${this.memoryMb} MiB (--render-memory); the render was stopped`,
              { file: job.job.request.path || "." },
            )
          : error;
      void this.retire(slot, failure);
    });
    worker.on("exit", () => void this.retire(slot, new Error("a render worker exited")));
    // An idle worker does not keep the process alive (after the listeners: adding one refs it again).
    worker.unref();
    this.slots.push(slot);
    return slot;
  }

  private settle(slot: Slot, reply: RenderReply): void {
    const current = slot.job;
    if (!current || current.id !== reply.id) return;
    clearTimeout(current.timer);
    slot.job = undefined;
    if ("json" in reply) current.job.resolve({ objects: JSON.parse(reply.json) as KubeObject[], reads: reply.reads });
    else current.job.reject(deserializeError(reply.error));
    this.dispatch();
  }

  private stopRunaway(slot: Slot, id: number): void {
    const job = slot.job;
    if (!job || job.id !== id) return;
    const { path, tree } = job.job.request;
    this.log.warn(
      { path, revision: tree.label, timeoutMs: this.timeoutMs },
      "render timed out; its worker is terminated",
    );
    void this.retire(
      slot,
      new TimeoutError(
        `rendering '${path || "."}' of ${tree.label} took longer than ${this.timeoutMs / 1000} s (--render-timeout); the render was stopped`,
        { file: path || "." },
      ),
    );
  }

  /** Fails the slot's job with `error`, terminates and forgets its worker; the next render starts a new one. */
  private async retire(slot: Slot, error: Error): Promise<void> {
    const index = this.slots.indexOf(slot);
    if (index < 0) return;
    this.slots.splice(index, 1);
    const job = slot.job;
    slot.job = undefined;
    if (job) {
      clearTimeout(job.timer);
      job.job.reject(error);
    }
    await slot.worker.terminate().catch(() => undefined);
    if (!this.closed) this.dispatch();
  }
}

/**
 * The compiled worker beside this module. Running from TypeScript sources (tests) there is none,
 * and renders run on the event loop unless `script` names a compiled one (dist/).
 */
function defaultScript(): URL | undefined {
  const here = new URL("./render-worker-thread.js", import.meta.url);
  return existsSync(fileURLToPath(here)) ? here : undefined;
}

/** The compiled worker in this repository's build (dist/), for tests that run the sources. */
export function builtWorkerScript(root: URL): URL {
  return new URL("dist/src/controller/render-worker-thread.js", root);
}
