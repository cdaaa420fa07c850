import type { ClusterClient } from "../apply/index.js";
import { NotFoundError } from "../core/errors.js";
import { KUSTOMIZATION_API_VERSION, type Kustomization } from "../core/flux.js";
import { LEASE_ROLE_LABEL } from "../core/leases.js";
import type { KubeObject } from "../core/object.js";
import { ROLLOUT_API_VERSION, type RolloutObject } from "../rollout/index.js";
import { waveRows, type WaveRow } from "./rollouts.js";
import {
  clusterOwners,
  clusterRows,
  formatTable,
  unitRows,
  type ClusterStatusRow,
  type UnitStatusRow,
} from "./table.js";

/** The Cluster API version `flotilla status` lists clusters from. */
export const CLUSTER_API_VERSION = "cluster.x-k8s.io/v1beta1";
const PAGE = 500;

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

/** The objects a fleet status is made of; a collection the cluster does not serve is undefined. */
export interface FleetObjects {
  units: Kustomization[];
  clusters?: KubeObject[];
  rollouts?: RolloutObject[];
  /** The cluster Leases of the controller's replicas (none with one controller). */
  leases?: KubeObject[];
}

/** The collections `flotilla status` reads, by the FleetObjects field they fill. */
export const FLEET_COLLECTIONS = {
  units: `/apis/${KUSTOMIZATION_API_VERSION}/kustomizations`,
  clusters: `/apis/${CLUSTER_API_VERSION}/clusters`,
  rollouts: `/apis/${ROLLOUT_API_VERSION}/rollouts`,
  leases: `/apis/coordination.k8s.io/v1/leases?labelSelector=${encodeURIComponent(`${LEASE_ROLE_LABEL}=cluster`)}`,
} as const;

/** Every object of a cluster-wide list, page by page; undefined when the API is not served (404). */
async function listAll<T extends KubeObject>(client: ClusterClient, path: string): Promise<T[] | undefined> {
  const items: T[] = [];
  let cont: string | undefined;
  do {
    const query = `${path.includes("?") ? "&" : "?"}limit=${PAGE}${cont ? `&continue=${encodeURIComponent(cont)}` : ""}`;
    const res = await client.request<{ items?: T[]; metadata?: { continue?: string } }>(
      "GET",
      `${path}${query}`,
      undefined,
      {
        allow: [404],
        count: "list",
      },
    );
    if (res.status === 404) return undefined;
    items.push(...(res.body.items ?? []));
    cont = res.body.metadata?.continue || undefined;
  } while (cont);
  return items;
}

/** Lists the units (Flux v1 Kustomizations, all namespaces), the Cluster API clusters and the Rollouts. */
export async function listFleetObjects(client: ClusterClient): Promise<FleetObjects> {
  const [units, clusters, rollouts, leases] = await Promise.all([
    listAll<Kustomization>(client, FLEET_COLLECTIONS.units),
    listAll<KubeObject>(client, FLEET_COLLECTIONS.clusters),
    listAll<RolloutObject>(client, FLEET_COLLECTIONS.rollouts),
    // A user who may not list Leases sees no OWNER column rather than no status.
    listAll<KubeObject>(client, FLEET_COLLECTIONS.leases).catch(() => undefined),
  ]);
  if (!units) {
    throw new NotFoundError(
      `${client.server} does not serve ${KUSTOMIZATION_API_VERSION} Kustomizations: is this the management cluster, with Flotilla's CRDs installed (flotilla render deploy/crds | kubectl apply -f -)?`,
      {
        object: `${KUSTOMIZATION_API_VERSION}/Kustomization`,
      },
    );
  }
  return { units, ...(clusters ? { clusters } : {}), ...(rollouts ? { rollouts } : {}), ...(leases ? { leases } : {}) };
}

/** Reads the fleet's status from the management cluster. */
export async function readFleetStatus(client: ClusterClient, now: Date): Promise<FleetStatus> {
  return fleetStatusOf(await listFleetObjects(client), now);
}

/** The status tables of the fleet's objects, and whether every unit and cluster is Ready. */
export function fleetStatusOf(objects: FleetObjects, now: Date): FleetStatus {
  const owners = objects.leases?.length ? clusterOwners(objects.leases, now) : undefined;
  const unitTable = unitRows(objects.units, now, owners).map((r) => ({ ...r, status: oneLine(r.status) }));
  const clusterTable = clusterRows(objects.clusters ?? [], now);
  return {
    units: unitTable,
    clusters: clusterTable,
    clusterApi: objects.clusters !== undefined,
    waves: waveRows(objects.rollouts ?? []).map((w) => ({ ...w, reason: oneLine(w.reason) })),
    ready: unitTable.every((r) => r.ready === "True") && clusterTable.every((r) => r.ready === "True"),
  };
}

/** A status message on one table line. */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").trim();
}

/** The tables and a summary line. */
export function formatStatus(status: FleetStatus): string {
  const parts: string[] = [];
  parts.push(
    status.units.length
      ? formatTable(status.units, [
          "namespace",
          "name",
          "cluster",
          ...(status.units.some((u) => u.owner !== undefined) ? (["owner"] as const) : []),
          "ready",
          "status",
          "age",
        ])
      : "no Kustomizations in any namespace\n",
  );
  if (status.clusters.length) parts.push(formatTable(status.clusters, ["namespace", "name", "phase", "ready", "age"]));
  else
    parts.push(
      status.clusterApi ? "no clusters\n" : `no clusters (the cluster does not serve ${CLUSTER_API_VERSION} Cluster)\n`,
    );
  if (status.waves.length) parts.push(formatTable(status.waves, ["rollout", "wave", "updated", "phase", "reason"]));
  const readyUnits = status.units.filter((r) => r.ready === "True").length;
  const readyClusters = status.clusters.filter((r) => r.ready === "True").length;
  parts.push(
    `${readyUnits}/${status.units.length} units Ready, ${readyClusters}/${status.clusters.length} clusters Ready\n`,
  );
  return parts.join("\n");
}
