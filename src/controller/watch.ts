import http from "node:http";
import https from "node:https";
import type { Logger } from "pino";
import type { Credentials } from "../apply/client.js";
import { silentLogger } from "../core/log.js";
import type { KubeObject } from "../core/object.js";

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

export interface WatchHandlers<T extends KubeObject> {
  /** Every object as it is now; called for each list item and each watch event. */
  onEvent(type: WatchEventType, object: T): void;
  /** The initial list (and each re-list after the watch expired) has been delivered. */
  onSynced?(): void;
}

/**
 * A list-then-watch of one resource across all namespaces, kept alive: a watch that ends is
 * resumed from the last resourceVersion, one that expired (410 Gone) re-lists and reports objects
 * that vanished meanwhile as DELETED. The informer pattern of client-go, reduced to one stream.
 */
export class ResourceWatch<T extends KubeObject> {
  private readonly known = new Map<string, T>();
  private resourceVersion = "";
  private stopped = false;
  private request: http.ClientRequest | undefined;
  private readonly log: Logger;
  private synced = false;

  constructor(
    private readonly creds: Credentials,
    /** e.g. `/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations` */
    private readonly path: string,
    private readonly handlers: WatchHandlers<T>,
    logger: Logger = silentLogger,
    /** Receive only metadata (PartialObjectMetadata), e.g. to follow Secrets without holding their data. */
    private readonly metadataOnly = false,
  ) {
    this.log = logger.child({ watch: path });
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** Starts listing and watching; resolves after the first list was delivered. */
  async start(): Promise<void> {
    await this.relist();
    void this.loop();
  }

  stop(): void {
    this.stopped = true;
    this.request?.destroy();
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        const outcome = await this.watchOnce();
        failures = 0;
        if (outcome === "expired") await this.relist();
      } catch (error) {
        if (this.stopped) return;
        failures++;
        this.log.debug({ err: (error as Error).message, failures }, "watch interrupted");
        await new Promise((r) => setTimeout(r, Math.min(5_000, 200 * 2 ** Math.min(failures, 5))));
        if (failures > 2) await this.relist().catch(() => undefined);
      }
    }
  }

  private async relist(): Promise<void> {
    const { status, body } = await this.get(this.path);
    if (status === 404) {
      throw new Error(`${this.path}: the resource is not served (are the CRDs installed?)`);
    }
    if (status !== 200) throw new Error(`${this.path}: list answered HTTP ${status}`);
    const list = body as { metadata: { resourceVersion: string }; items: T[]; apiVersion?: string; kind?: string };
    const itemKind = list.kind?.replace(/List$/, "");
    const seen = new Set<string>();
    for (const item of list.items ?? []) {
      // List items carry no apiVersion/kind; give them the list's.
      if (!item.apiVersion && list.apiVersion) item.apiVersion = list.apiVersion;
      if (!item.kind && itemKind) item.kind = itemKind;
      const key = keyOf(item);
      seen.add(key);
      const before = this.known.get(key);
      this.known.set(key, item);
      if (before?.metadata.resourceVersion !== item.metadata.resourceVersion) this.handlers.onEvent(before ? "MODIFIED" : "ADDED", item);
    }
    for (const [key, item] of this.known) {
      if (!seen.has(key)) {
        this.known.delete(key);
        this.handlers.onEvent("DELETED", item);
      }
    }
    this.resourceVersion = list.metadata.resourceVersion;
    this.synced = true;
    this.handlers.onSynced?.();
  }

  /** One watch request; resolves when the server ends it (normally after its timeout). */
  private watchOnce(): Promise<"ended" | "expired"> {
    const url = new URL(`${this.path}?watch=1&allowWatchBookmarks=true&timeoutSeconds=300&resourceVersion=${encodeURIComponent(this.resourceVersion)}`, this.creds.server);
    return new Promise((resolve, reject) => {
      const req = this.transport(url).request(url, { method: "GET", ...this.tls(), headers: this.headers(true) }, (res) => {
        if (res.statusCode === 410) {
          res.resume();
          resolve("expired");
          return;
        }
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`watch ${this.path} answered HTTP ${res.statusCode}`));
          return;
        }
        let buffer = "";
        let expired = false;
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          buffer += chunk;
          let newline: number;
          while ((newline = buffer.indexOf("\n")) >= 0) {
            const line = buffer.slice(0, newline);
            buffer = buffer.slice(newline + 1);
            if (line.trim() && this.deliver(line) === "expired") expired = true;
          }
        });
        res.on("end", () => resolve(expired ? "expired" : "ended"));
        res.on("error", reject);
      });
      this.request = req;
      req.on("error", reject);
      req.end();
    });
  }

  private deliver(line: string): "ok" | "expired" {
    const event = JSON.parse(line) as { type: string; object: T & { code?: number } };
    if (event.type === "ERROR") return event.object.code === 410 ? "expired" : "ok";
    if (event.object.metadata?.resourceVersion) this.resourceVersion = event.object.metadata.resourceVersion;
    if (event.type === "BOOKMARK") return "ok";
    const key = keyOf(event.object);
    if (event.type === "DELETED") this.known.delete(key);
    else this.known.set(key, event.object);
    this.handlers.onEvent(event.type as WatchEventType, event.object);
    return "ok";
  }

  private get(path: string): Promise<{ status: number; body: unknown }> {
    const url = new URL(path, this.creds.server);
    return new Promise((resolve, reject) => {
      const req = this.transport(url).request(url, { method: "GET", ...this.tls(), headers: this.headers(), timeout: 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (d: Buffer) => chunks.push(d));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
          } catch {
            resolve({ status: res.statusCode ?? 0, body: text });
          }
        });
        res.on("error", reject);
      });
      req.on("timeout", () => req.destroy(new Error(`list ${path} timed out`)));
      req.on("error", reject);
      req.end();
    });
  }

  private transport(url: URL): typeof https | typeof http {
    return url.protocol === "https:" ? https : http;
  }

  private tls(): https.RequestOptions {
    const c = this.creds;
    return { ...(c.ca ? { ca: c.ca } : {}), ...(c.cert ? { cert: c.cert, key: c.key } : {}), rejectUnauthorized: !c.insecure, agent: false };
  }

  private headers(forWatch = false): Record<string, string> {
    const accept = !this.metadataOnly ? "application/json" : `application/json;as=${forWatch ? "PartialObjectMetadata" : "PartialObjectMetadataList"};g=meta.k8s.io;v=v1`;
    return { Accept: accept, ...(this.creds.token ? { Authorization: `Bearer ${this.creds.token}` } : {}) };
  }
}

const keyOf = (o: KubeObject) => `${o.metadata.namespace ?? ""}/${o.metadata.name ?? ""}`;
