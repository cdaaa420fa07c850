import type { ClusterClient } from "../apply/index.js";
import { describeError } from "../core/errors.js";
import type { Kustomization } from "../core/flux.js";
import { objectKey, type KubeObject } from "../core/object.js";
import type { RolloutObject } from "../rollout/index.js";
import {
  FLEET_COLLECTIONS,
  fleetStatusOf,
  formatStatus,
  listFleetObjects,
  type FleetObjects,
  type FleetStatus,
} from "./fleet-status.js";

/** One collection's list-and-watch as the status watch needs it: ADDED/MODIFIED/DELETED events, started and stopped. */
export interface CollectionWatch {
  /** Resolves after the first list was delivered. */
  start(): Promise<void>;
  stop(): void | Promise<void>;
}

/**
 * Opens a list-and-watch of a cluster-wide collection path: the seam to the one list-and-watch
 * implementation (ResourceWatch), which status, a stage below the controller, does not import.
 */
export type OpenWatch = (
  path: string,
  onEvent: (type: "ADDED" | "MODIFIED" | "DELETED", object: KubeObject) => void,
) => CollectionWatch;

export interface WatchOptions {
  signal: AbortSignal;
  json: boolean;
  /** Clear the screen before each table (a terminal). */
  clear?: boolean;
  openWatch: OpenWatch;
  /** How long to wait before listing again after the first list failed (default 2 s). */
  retryMs?: number;
  /** Events closer together than this are printed once (default 100 ms). */
  settleMs?: number;
  write(text: string): void;
  warn(text: string): void;
  now?: () => Date;
}

const RETRY_MS = 2_000;
const SETTLE_MS = 100;

/**
 * Prints the status, then again each time it changes (ages aside) until the signal aborts; JSON is
 * printed as one line per change. One list finds what the cluster serves (retried, with the error
 * reported, until it succeeds); after it, every change arrives through a list-and-watch of each
 * served collection, so nothing is polled. Returns the last status printed.
 */
export async function watchFleetStatus(client: ClusterClient, opts: WatchOptions): Promise<FleetStatus | undefined> {
  const now = opts.now ?? (() => new Date());
  const first = await firstList(client, opts);
  if (!first) return undefined;
  const printer = statusPrinter(opts, now);
  printer.show(first);

  const known = collectionsOf(first);
  let timer: NodeJS.Timeout | undefined;
  const changed = () => {
    timer ??= setTimeout(() => {
      timer = undefined;
      printer.show(objectsOf(known));
    }, opts.settleMs ?? SETTLE_MS);
  };
  const watches: CollectionWatch[] = [];
  try {
    for (const field of ["units", "clusters", "rollouts", "leases"] as const) {
      const objects = known[field];
      if (!objects) continue;
      const watch = opts.openWatch(FLEET_COLLECTIONS[field], (type, object) => {
        if (type === "DELETED") objects.delete(objectKey(object));
        else objects.set(objectKey(object), object);
        changed();
      });
      watches.push(watch);
      await watch.start();
    }
    await aborted(opts.signal);
  } finally {
    clearTimeout(timer);
    for (const w of watches) await w.stop();
  }
  return printer.last();
}

/** The first list, retried every `retryMs` with each new error reported, until it succeeds or the signal aborts. */
async function firstList(client: ClusterClient, opts: WatchOptions): Promise<FleetObjects | undefined> {
  let failing = "";
  while (!opts.signal.aborted) {
    try {
      return await listFleetObjects(client);
    } catch (error) {
      const message = describeError(error);
      if (message !== failing)
        opts.warn(`flotilla status: ${message} (retrying every ${(opts.retryMs ?? RETRY_MS) / 1000} s)\n`);
      failing = message;
    }
    await sleep(opts.retryMs ?? RETRY_MS, opts.signal);
  }
  return undefined;
}

/** Prints a status when it differs from the last one printed in more than ages. */
function statusPrinter(
  opts: WatchOptions,
  now: () => Date,
): { show(objects: FleetObjects): void; last(): FleetStatus | undefined } {
  let shown = "";
  let last: FleetStatus | undefined;
  let prints = 0;
  return {
    show(objects) {
      const status = fleetStatusOf(objects, now());
      last = status;
      const key = JSON.stringify({
        ...status,
        units: status.units.map(({ age: _, ...r }) => r),
        clusters: status.clusters.map(({ age: _, ...r }) => r),
      });
      if (key === shown) return;
      shown = key;
      if (opts.json) opts.write(`${JSON.stringify({ time: now().toISOString(), ...status })}\n`);
      else opts.write(`${opts.clear ? "\x1b[2J\x1b[H" : prints > 0 ? "\n" : ""}${formatStatus(status)}`);
      prints++;
    },
    last: () => last,
  };
}

/** The objects known now, by `namespace/name`, per served collection. */
interface Collections {
  units: Map<string, KubeObject>;
  clusters?: Map<string, KubeObject>;
  rollouts?: Map<string, KubeObject>;
  leases?: Map<string, KubeObject>;
}

function collectionsOf(objects: FleetObjects): Collections {
  const byKey = (list: readonly KubeObject[]) => new Map(list.map((o) => [objectKey(o), o]));
  return {
    units: byKey(objects.units),
    ...(objects.clusters ? { clusters: byKey(objects.clusters) } : {}),
    ...(objects.rollouts ? { rollouts: byKey(objects.rollouts) } : {}),
    ...(objects.leases ? { leases: byKey(objects.leases) } : {}),
  };
}

function objectsOf(known: Collections): FleetObjects {
  return {
    units: [...known.units.values()] as Kustomization[],
    ...(known.clusters ? { clusters: [...known.clusters.values()] } : {}),
    ...(known.rollouts ? { rollouts: [...known.rollouts.values()] as RolloutObject[] } : {}),
    ...(known.leases ? { leases: [...known.leases.values()] } : {}),
  };
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) =>
    signal.aborted ? resolve() : signal.addEventListener("abort", () => resolve(), { once: true }),
  );
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
