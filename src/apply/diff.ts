import { InvalidInputError, RemoteError } from "../core/errors.js";
import type { FieldChange } from "../core/field-diff.js";
import type { InventoryEntry } from "../core/flux.js";
import { groupOf, isPlainObject, objectId, objectRef, type KubeObject } from "../core/object.js";
import { ApiError, ClusterClient } from "../core/kube/index.js";
import { dryRunChanges } from "./drift.js";
import { inventoryOf } from "./inventory.js";
import { inParallel } from "./parallel.js";
import { pruneCandidates, pruneOne } from "./prune.js";
import {
  desiredObjects,
  ownerLabels,
  reconcileDisabled,
  resourceOrFail,
  scopeNamespace,
  serverSideApply,
  getLive,
  type UnitRef,
} from "./ssa.js";

export interface DiffRequest {
  unit: UnitRef;
  objects: readonly KubeObject[];
  /** What the unit applied last time; entries no longer in `objects` are prune candidates. */
  previousInventory?: readonly InventoryEntry[];
  /** Whether the unit prunes (default true); without it nothing is listed as removed. */
  prune?: boolean;
  /** Requests in flight at once (default 8). */
  concurrency?: number;
}

/** What an apply would do to one object: create it, change these fields, or prune it. */
export interface ObjectDiff {
  /** Inventory id `<ns>_<name>_<group>_<kind>`. */
  id: string;
  /** `Kind/namespace/name` */
  ref: string;
  change: "added" | "changed" | "removed";
  /** For `changed`: the fields that differ, live → applied, Secret values masked. */
  fields?: FieldChange[];
}

export interface UnitDiff {
  /** Objects that would be created, changed or pruned, by ref. */
  changes: ObjectDiff[];
  /** Refs of objects an apply would leave as they are. */
  unchanged: string[];
  /** Objects an apply would not touch although they differ or left the unit, and why. */
  skipped: Array<{ ref: string; note: string }>;
}

/**
 * What applying a unit would change on a cluster, written nowhere: for each object a server-side
 * dry-run apply (field manager `flotilla`, forced, the unit's owner labels added) compared with
 * the live object, apiserver-owned metadata and status ignored and Secret values masked, as
 * `flux diff kustomization` does; objects that do not exist yet are listed as added (validated by
 * the same dry run), and objects of `previousInventory` that left the unit as removed when prune
 * would delete them.
 */
export async function diffUnit(client: ClusterClient, req: DiffRequest): Promise<UnitDiff> {
  const desired = desiredObjects(req.unit, req.objects);
  const newNamespaces = new Set(
    desired.filter((o) => o.kind === "Namespace" && o.apiVersion === "v1").map((o) => o.metadata.name),
  );
  const unitCrds = new Set(desired.filter((o) => o.kind === "CustomResourceDefinition").map(crdKindKey));
  const result: UnitDiff = { changes: [], unchanged: [], skipped: [] };

  await inParallel(desired, req.concurrency ?? 8, async (obj) => {
    const resource = await client.resourceOf(obj);
    if (!resource && unitCrds.has(`${groupOf(obj.apiVersion)}/${obj.kind}`)) {
      // Its CRD arrives with the unit, so the apiserver cannot check it yet.
      result.changes.push({ id: objectId(obj), ref: objectRef(obj), change: "added" });
      return;
    }
    const scoped = resource ?? (await resourceOrFail(client, obj));
    scopeNamespace(obj, scoped);
    const ref = objectRef(obj);
    const path = ClusterClient.pathOf(scoped, obj.metadata.namespace, obj.metadata.name);
    const live = await getLive(client, path);
    if (live.status !== 404 && reconcileDisabled(obj, live.body)) {
      result.skipped.push({ ref, note: "reconcile disabled" });
      return;
    }
    let dry: KubeObject;
    try {
      dry = await serverSideApply(client, path, obj, true);
    } catch (error) {
      const namespaceComesWithUnit =
        live.status === 404 &&
        error instanceof ApiError &&
        error.status === 404 &&
        newNamespaces.has(obj.metadata.namespace);
      if (!namespaceComesWithUnit) throw rejected(obj, error);
      dry = obj;
    }
    if (live.status === 404) {
      result.changes.push({ id: objectId(obj), ref, change: "added" });
      return;
    }
    const fields = dryRunChanges(live.body, dry);
    if (fields.length === 0) result.unchanged.push(ref);
    else result.changes.push({ id: objectId(obj), ref, change: "changed", fields });
  });

  if (req.prune !== false && req.previousInventory) {
    const owner = ownerLabels(req.unit);
    for (const entry of pruneCandidates(req.previousInventory, inventoryOf(desired))) {
      const outcome = await pruneOne(client, entry, owner, true);
      if (outcome?.action === "deleted") result.changes.push({ id: entry.id, ref: outcome.ref, change: "removed" });
      else if (outcome?.action === "skipped")
        result.skipped.push({ ref: outcome.ref, note: outcome.note ?? "skipped" });
    }
  }
  result.changes.sort((a, b) => a.ref.localeCompare(b.ref));
  result.unchanged.sort();
  result.skipped.sort((a, b) => a.ref.localeCompare(b.ref));
  return result;
}

function crdKindKey(crd: KubeObject): string {
  const spec = isPlainObject(crd.spec) ? crd.spec : {};
  const names = isPlainObject(spec.names) ? spec.names : {};
  return `${String(spec.group ?? "")}/${String(names.kind ?? "")}`;
}

/** An apiserver's refusal of an object, naming it; other failures keep their kind. */
function rejected(obj: KubeObject, error: unknown): Error {
  if (error instanceof ApiError && error.status >= 400 && error.status < 500)
    return new InvalidInputError(error.message, { object: objectRef(obj) }, { cause: error });
  if (error instanceof RemoteError || error instanceof InvalidInputError) return error;
  return new RemoteError(
    `${objectRef(obj)}: ${(error as Error).message}`,
    { object: objectRef(obj) },
    { cause: error },
  );
}
