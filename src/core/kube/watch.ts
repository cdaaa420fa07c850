import type { Logger } from "pino";
import { silentLogger } from "../log.js";
import { objectKey, type KubeObject } from "../object.js";
import { ApiError, type ClusterClient } from "./client.js";

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

export interface WatchHandlers<T extends KubeObject> {
  /** Every object as it is now; called for each list item that changed and each watch event. */
  onEvent(type: WatchEventType, object: T): void;
  /** The initial list (and each re-list) has been delivered; `objects` is everything known now. */
  onSynced?(objects: T[]): void;
}

export interface WatchOptions {
  /** Receive only metadata (PartialObjectMetadata), e.g. to follow Secrets without holding their data. */
  metadataOnly?: boolean;
  /** How long the server keeps one watch request open (default 300 s); the watch then resumes. */
  timeoutSeconds?: number;
  /** Items per list page (default 500). */
  pageSize?: number;
  /** Applied to every object before it is kept and delivered (client-go's SetTransform), e.g. stripManagedFields. */
  transform?: (object: KubeObject) => KubeObject;
}

/** Drops `metadata.managedFields`, which a cache of thousands of objects would otherwise mostly hold (controller-runtime's TransformStripManagedFields). */
export function stripManagedFields(object: KubeObject): KubeObject {
  if (object.metadata?.managedFields === undefined) return object;
  const { managedFields: _, ...metadata } = object.metadata;
  return { ...object, metadata };
}

const MAX_BACKOFF_MS = 5_000;

/**
 * List-then-watch of one collection (any path, e.g. `/api/v1/pods?fieldSelector=…` or
 * `/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations`), kept alive: the list is read in pages,
 * the watch asks for bookmarks (`allowWatchBookmarks`) and resumes from the last resourceVersion
 * seen when the server ends it; an expired resourceVersion (410 Gone, as an HTTP status or an
 * ERROR event) re-lists and reports objects that vanished meanwhile as DELETED. Errors back off
 * (to 5 s) and re-list after three in a row. The informer pattern of client-go, reduced to one
 * stream; the one watch every part of Flotilla uses (controller, status --watch, the simulated kubelet).
 */
export class ResourceWatch<T extends KubeObject> {
  private readonly known = new Map<string, T>();
  private resourceVersion = "";
  private stopped = false;
  private abort: (() => void) | undefined;
  private wake: () => void = () => undefined;
  private readonly log: Logger;
  private synced = false;
  private loop: Promise<void> | undefined;
  /** Lists done (the first included): a test proves a 410 re-lists by counting them. */
  relists = 0;

  constructor(
    private readonly client: ClusterClient,
    private readonly path: string,
    private readonly handlers: WatchHandlers<T>,
    logger: Logger = silentLogger,
    private readonly options: WatchOptions = {},
  ) {
    this.log = logger.child({ watch: path });
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** Everything known now. */
  objects(): T[] {
    return [...this.known.values()];
  }

  /** Lists, then keeps watching; resolves after the first list was delivered (and rejects if it fails). */
  async start(): Promise<void> {
    await this.relist();
    this.loop = this.run();
  }

  /** Ends the watch; resolves when its loop has returned. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort?.();
    this.wake();
    await this.loop;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        const outcome = await this.watchOnce();
        failures = 0;
        if (outcome === "expired" && !this.stopped) await this.relist();
      } catch (error) {
        if (this.stopped) return;
        failures++;
        this.log.debug({ err: (error as Error).message, failures }, "watch interrupted");
        await this.pause(Math.min(MAX_BACKOFF_MS, 200 * 2 ** Math.min(failures, 5)));
        if (failures > 2 && !this.stopped)
          await this.relist().catch((e: unknown) => this.log.debug({ err: (e as Error).message }, "relist failed"));
      }
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private query(params: Record<string, string>): string {
    const q = new URLSearchParams(params).toString();
    return `${this.path}${this.path.includes("?") ? "&" : "?"}${q}`;
  }

  private accept(list: boolean): string {
    if (!this.options.metadataOnly) return "application/json";
    return `application/json;as=${list ? "PartialObjectMetadataList" : "PartialObjectMetadata"};g=meta.k8s.io;v=v1`;
  }

  private async listAll(): Promise<{ items: T[]; resourceVersion: string }> {
    const items: T[] = [];
    let cont = "";
    let resourceVersion = "";
    do {
      const path = this.query({ limit: String(this.options.pageSize ?? 500), ...(cont ? { continue: cont } : {}) });
      const res = await this.client.request<{
        metadata: { resourceVersion: string; continue?: string };
        items: T[];
        apiVersion?: string;
        kind?: string;
      }>("GET", path, undefined, { allow: [404], count: "list", accept: this.accept(true) });
      if (res.status === 404)
        throw new ApiError(404, "NotFound", `${this.path}: the resource is not served (are the CRDs installed?)`);
      const itemKind = res.body.kind?.replace(/List$/, "");
      for (const item of res.body.items ?? []) {
        // List items carry no apiVersion/kind; give them the list's.
        if (!item.apiVersion && res.body.apiVersion) item.apiVersion = res.body.apiVersion;
        if (!item.kind && itemKind) item.kind = itemKind;
        items.push(this.transformed(item));
      }
      cont = res.body.metadata?.continue ?? "";
      resourceVersion = res.body.metadata?.resourceVersion ?? resourceVersion;
    } while (cont);
    return { items, resourceVersion };
  }

  private async relist(): Promise<void> {
    const { items, resourceVersion } = await this.listAll();
    this.relists++;
    const seen = new Set<string>();
    for (const item of items) {
      const key = objectKey(item);
      seen.add(key);
      const before = this.known.get(key);
      this.known.set(key, item);
      if (before && before.metadata.uid !== item.metadata.uid) {
        // Deleted and created again while nobody watched: two events, not one change.
        this.handlers.onEvent("DELETED", before);
        this.handlers.onEvent("ADDED", item);
      } else if (before?.metadata.resourceVersion !== item.metadata.resourceVersion)
        this.handlers.onEvent(before ? "MODIFIED" : "ADDED", item);
    }
    for (const [key, item] of this.known) {
      if (!seen.has(key)) {
        this.known.delete(key);
        this.handlers.onEvent("DELETED", item);
      }
    }
    this.resourceVersion = resourceVersion;
    this.synced = true;
    this.handlers.onSynced?.(this.objects());
  }

  /** One watch request; resolves when the server ends it (normally after its timeout). */
  private async watchOnce(): Promise<"ended" | "expired"> {
    let outcome = "ended" as "ended" | "expired";
    let failure: unknown;
    let abort: (() => void) | undefined;
    const path = this.query({
      watch: "1",
      allowWatchBookmarks: "true",
      timeoutSeconds: String(this.options.timeoutSeconds ?? 300),
      resourceVersion: this.resourceVersion,
    });
    const onLine = (line: string) => {
      if (outcome === "expired" || failure) return;
      try {
        if (this.deliver(line) === "expired") outcome = "expired";
      } catch (error) {
        failure = error;
      }
      if (outcome === "expired" || failure) abort?.();
    };
    const stream = await this.client.stream(path, onLine, { accept: this.accept(false), count: "watch" });
    if (stream.status === 410) return "expired";
    if (stream.status !== 200) {
      const message = (stream.body as { message?: string } | undefined)?.message;
      throw new ApiError(
        stream.status,
        "WatchFailed",
        `watch ${this.path} answered HTTP ${stream.status}${message ? `: ${message}` : ""}`,
      );
    }
    abort = stream.abort;
    this.abort = stream.abort;
    if (this.stopped || outcome === "expired" || failure) stream.abort();
    try {
      await stream.done;
    } finally {
      this.abort = undefined;
    }
    if (failure) throw failure;
    return outcome;
  }

  private deliver(line: string): "ok" | "expired" {
    const event = JSON.parse(line) as { type: string; object: T & { code?: number; message?: string } };
    if (event.type === "ERROR") {
      if (event.object.code === 410) return "expired";
      throw new ApiError(event.object.code ?? 500, "WatchError", event.object.message ?? "watch error");
    }
    if (event.object.metadata?.resourceVersion) this.resourceVersion = event.object.metadata.resourceVersion;
    if (event.type === "BOOKMARK") return "ok";
    const object = this.transformed(event.object);
    const key = objectKey(object);
    if (event.type === "DELETED") this.known.delete(key);
    else this.known.set(key, object);
    this.handlers.onEvent(event.type as WatchEventType, object);
    return "ok";
  }

  private transformed(object: T): T {
    return this.options.transform ? (this.options.transform(object) as T) : object;
  }
}
