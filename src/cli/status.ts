import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ClusterClient } from "../apply/index.js";
import { describeError, InvalidInputError, NotFoundError } from "../core/errors.js";
import { KUSTOMIZATION_API_VERSION, type Kustomization } from "../core/flux.js";
import type { KubeObject } from "../core/object.js";
import { clusterRows, formatTable, unitRows, type ClusterStatusRow, type UnitStatusRow } from "../status/table.js";
import { ROLLOUT_API_VERSION, type RolloutObject } from "../rollout/index.js";
import { waveRows, type WaveRow } from "../status/rollouts.js";

/** The Cluster API version `flotilla status` lists clusters from. */
export const CLUSTER_API_VERSION = "cluster.x-k8s.io/v1beta1";
const PAGE = 500;
const POLL_MS = 2_000;

/** What `flotilla status` reports: every unit, every cluster, and whether all of them are Ready. */
export interface FleetStatus {
  units: UnitStatusRow[];
  clusters: ClusterStatusRow[];
  /** False when the management cluster does not serve Cluster API's `Cluster` (no clusters to list). */
  clusterApi: boolean;
  /** Each Rollout's waves (counts, phase, reason); empty without Rollouts. */
  waves: WaveRow[];
  ready: boolean;
}

/**
 * `flotilla status [--kubeconfig FILE] [--json] [--watch]`: the Kustomizations of every namespace
 * of the management cluster (NAMESPACE NAME CLUSTER READY STATUS AGE) and its Cluster API clusters
 * with their phase. `--watch` prints again whenever something other than an age changes (a poll
 * every 2 s) until Ctrl-C. Exit 0 when every unit and cluster is Ready, 1 otherwise, 2 on error.
 */
export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { kubeconfig: { type: "string" }, json: { type: "boolean", default: false }, watch: { type: "boolean", short: "w", default: false } },
  });
  if (positionals.length) throw new InvalidInputError(`flotilla status takes no arguments, not '${positionals.join(" ")}'`);
  const client = ClusterClient.fromKubeconfig(readKubeconfig(values.kubeconfig), { timeoutMs: 15_000, retries: 3, retryForMs: 5_000 });
  try {
    if (!values.watch) {
      const status = await readFleetStatus(client, new Date());
      process.stdout.write(values.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
      return status.ready ? 0 : 1;
    }
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    try {
      const last = await watchFleetStatus(client, {
        signal: stop.signal,
        json: values.json,
        clear: !values.json && process.stdout.isTTY === true,
        write: (text) => process.stdout.write(text),
        warn: (text) => process.stderr.write(text),
      });
      return last?.ready ? 0 : 1;
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  } finally {
    client.close();
  }
}

/** The kubeconfig's text: --kubeconfig, else the first existing file of $KUBECONFIG, else ~/.kube/config. */
export function readKubeconfig(flag: string | undefined, env: NodeJS.ProcessEnv = process.env, home = homedir()): string {
  const candidates = flag ? [flag] : env.KUBECONFIG ? env.KUBECONFIG.split(":").filter(Boolean) : [join(home, ".kube", "config")];
  const file = flag ?? candidates.find((f) => existsSync(f));
  const field = flag ? "--kubeconfig" : env.KUBECONFIG ? "KUBECONFIG" : undefined;
  if (!file) {
    throw new NotFoundError(`no kubeconfig: none of ${candidates.map((c) => `'${c}'`).join(", ")} exists; pass --kubeconfig FILE or set KUBECONFIG`, { file: candidates[0]!, ...(field ? { field } : {}) });
  }
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw new NotFoundError(`cannot read the kubeconfig: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { file, ...(field ? { field } : {}) }, { cause: error });
  }
}

/** Every object of a cluster-wide list, page by page; undefined when the API is not served (404). */
async function listAll<T extends KubeObject>(client: ClusterClient, apiVersion: string, resource: string): Promise<T[] | undefined> {
  const items: T[] = [];
  let cont: string | undefined;
  do {
    const query = `?limit=${PAGE}${cont ? `&continue=${encodeURIComponent(cont)}` : ""}`;
    const res = await client.request<{ items?: T[]; metadata?: { continue?: string } }>("GET", `/apis/${apiVersion}/${resource}${query}`, undefined, { allow: [404], count: "list" });
    if (res.status === 404) return undefined;
    items.push(...(res.body.items ?? []));
    cont = res.body.metadata?.continue || undefined;
  } while (cont);
  return items;
}

/** Reads the units (Flux v1 Kustomizations, all namespaces) and the Cluster API clusters. */
export async function readFleetStatus(client: ClusterClient, now: Date): Promise<FleetStatus> {
  const [units, clusters, rollouts] = await Promise.all([
    listAll<Kustomization>(client, KUSTOMIZATION_API_VERSION, "kustomizations"),
    listAll<KubeObject>(client, CLUSTER_API_VERSION, "clusters"),
    listAll<RolloutObject>(client, ROLLOUT_API_VERSION, "rollouts"),
  ]);
  if (!units) {
    throw new NotFoundError(`${client.server} does not serve ${KUSTOMIZATION_API_VERSION} Kustomizations: is this the management cluster, with Flotilla's CRDs installed (flotilla render deploy/crds | kubectl apply -f -)?`, {
      object: `${KUSTOMIZATION_API_VERSION}/Kustomization`,
    });
  }
  const unitTable = unitRows(units, now).map((r) => ({ ...r, status: oneLine(r.status) }));
  const clusterTable = clusterRows(clusters ?? [], now);
  return {
    units: unitTable,
    clusters: clusterTable,
    clusterApi: clusters !== undefined,
    waves: waveRows(rollouts ?? []).map((w) => ({ ...w, reason: oneLine(w.reason) })),
    ready: unitTable.every((r) => r.ready === "True") && clusterTable.every((r) => r.ready === "True"),
  };
}

/** A status message on one table line. */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").trim();
}

/** The two tables and a summary line. */
export function formatStatus(status: FleetStatus): string {
  const parts: string[] = [];
  parts.push(status.units.length ? formatTable(status.units, ["namespace", "name", "cluster", "ready", "status", "age"]) : "no Kustomizations in any namespace\n");
  if (status.clusters.length) parts.push(formatTable(status.clusters, ["namespace", "name", "phase", "ready", "age"]));
  else parts.push(status.clusterApi ? "no clusters\n" : `no clusters (the cluster does not serve ${CLUSTER_API_VERSION} Cluster)\n`);
  if (status.waves.length) parts.push(formatTable(status.waves, ["rollout", "wave", "updated", "phase", "reason"]));
  const readyUnits = status.units.filter((r) => r.ready === "True").length;
  const readyClusters = status.clusters.filter((r) => r.ready === "True").length;
  parts.push(`${readyUnits}/${status.units.length} units Ready, ${readyClusters}/${status.clusters.length} clusters Ready\n`);
  return parts.join("\n");
}

export interface WatchOptions {
  signal: AbortSignal;
  json: boolean;
  /** Clear the screen before each table (a terminal). */
  clear?: boolean;
  intervalMs?: number;
  write(text: string): void;
  warn(text: string): void;
  now?: () => Date;
}

/**
 * Prints the status, then again each time it changes (ages aside), polling every 2 s until the
 * signal aborts; JSON is printed as one line per change. Read errors are reported and polling goes
 * on. Returns the last status read.
 */
export async function watchFleetStatus(client: ClusterClient, opts: WatchOptions): Promise<FleetStatus | undefined> {
  const now = opts.now ?? (() => new Date());
  let last: FleetStatus | undefined;
  let shown = "";
  let failing = "";
  let prints = 0;
  while (!opts.signal.aborted) {
    try {
      const status = await readFleetStatus(client, now());
      last = status;
      failing = "";
      const key = JSON.stringify({ ...status, units: status.units.map(({ age: _, ...r }) => r), clusters: status.clusters.map(({ age: _, ...r }) => r) });
      if (key !== shown) {
        shown = key;
        if (opts.json) opts.write(`${JSON.stringify({ time: now().toISOString(), ...status })}\n`);
        else opts.write(`${opts.clear ? "\x1b[2J\x1b[H" : prints > 0 ? "\n" : ""}${formatStatus(status)}`);
        prints++;
      }
    } catch (error) {
      const message = describeError(error);
      if (message !== failing) opts.warn(`flotilla status: ${message} (retrying every ${(opts.intervalMs ?? POLL_MS) / 1000} s)\n`);
      failing = message;
    }
    await sleep(opts.intervalMs ?? POLL_MS, opts.signal);
  }
  return last;
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
