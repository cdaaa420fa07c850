import type { Logger } from "pino";
import { ANNOTATION_FORCE, FIELD_MANAGER, type InventoryEntry } from "../core/flux.js";
import { InvalidInputError } from "../core/errors.js";
import { silentLogger } from "../core/log.js";
import { objectId, objectRef, type KubeObject } from "../core/object.js";
import { summarize, type ChangeSetEntry } from "./change-set.js";
import { ApiError, ClusterClient } from "../core/kube/index.js";
import { dryRunChanges, unchangedByApply } from "./drift.js";
import { inventoryOf } from "./inventory.js";
import { createMissingNamespaces } from "./namespaces.js";
import { applyStages } from "./order.js";
import { ApplyFailure, HealthCheckFailure } from "./errors.js";
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
} from "./ssa.js";
import { healthCheckTargets, waitHealthy, type HealthCheckRef, type OnPending } from "./wait.js";

export { waitHealthy } from "./wait.js";

export interface ApplyRequest {
  unit: { name: string; namespace: string };
  objects: readonly KubeObject[];
  previousInventory?: readonly InventoryEntry[];
  prune: boolean;
  wait: boolean;
  /** Objects to wait for (Flux's `spec.healthChecks`): the unit's own, or any other the client may read. */
  healthChecks?: readonly HealthCheckRef[];
  timeoutMs: number;
  force?: boolean;
  /** Requests in flight at once for this unit. */
  concurrency?: number;
  /**
   * Called before a stage writes objects that `previousInventory` lacks, with the inventory the
   * cluster may hold once it has (the previous one, plus everything staged so far). A caller that
   * stores it can be killed mid-apply and still find, and prune, everything this apply created.
   */
  recordIntent?: (inventory: InventoryEntry[]) => Promise<void>;
  /** Create the namespaces the unit's objects live in when they are missing (Argo CD's `CreateNamespace=true`); they are never pruned. */
  createNamespaces?: boolean;
  /** Hears, while health checks wait, which objects are not healthy yet and why. */
  onHealthPending?: OnPending;
}

export interface ApplyResult {
  changeSet: ChangeSetEntry[];
  inventory: InventoryEntry[];
  summary: string;
}

/**
 * Makes a cluster hold a unit's objects, as Flux's kustomize-controller does, in three steps as
 * fluxcd/pkg ssa names them: ApplyAllStaged (server-side apply in stages: CRDs, Namespaces,
 * ClusterRoles — then CRDs Established — then `*Class` kinds, then the rest, writing only objects
 * that differ from the live ones), Delete (prune of what left the unit) and WaitForSet (the health
 * checks). Within a stage, objects to be written are dry-run first and one rejection fails the stage
 * before any of it is written (Flux's ApplyAll); earlier stages stay applied. A failure leaves
 * applied objects in place and never shrinks the inventory.
 */
export async function applyUnit(
  client: ClusterClient,
  req: ApplyRequest,
  opts: { logger?: Logger } = {},
): Promise<ApplyResult> {
  const log = (opts.logger ?? silentLogger).child({ unit: `${req.unit.namespace}/${req.unit.name}` });
  const desired = desiredObjects(req.unit, req.objects);
  const progress = new ApplyProgress(req.previousInventory ?? []);
  await applyAllStaged(client, req, desired, progress, log);
  const inventory = inventoryOf(desired);
  if (req.prune) await pruneStale(client, req, inventory, progress);
  await waitForHealth(client, req, inventory, progress);
  const changeSet = [...progress.changeSet].sort((a, b) => a.id.localeCompare(b.id));
  const summary = summarize(changeSet);
  if (summary) log.info({ changes: summary }, "applied");
  return { changeSet, inventory, summary };
}

/** What an apply has done so far: its change set, the objects it applied and their last known state. */
class ApplyProgress {
  readonly changeSet: ChangeSetEntry[] = [];
  readonly applied: KubeObject[] = [];
  /** The state the apiserver last returned for each object (its GET or apply response), so health checks need no request for objects that are already Current. */
  readonly states = new Map<KubeObject, KubeObject>();

  constructor(readonly previous: readonly InventoryEntry[]) {}

  /** Throws an ApplyFailure whose inventory never shrinks: the old inventory plus what this run applied. */
  fail(message: string, object?: string): never {
    const union = new Map(this.previous.map((e) => [e.id, e]));
    for (const e of inventoryOf(this.applied)) union.set(e.id, e);
    throw new ApplyFailure(
      message,
      [...union.values()].sort((a, b) => a.id.localeCompare(b.id)),
      object,
    );
  }
}

/** ApplyAllStaged: each stage in turn — missing namespaces, recorded intent, ApplyAll, then CRDs Established. */
async function applyAllStaged(
  client: ClusterClient,
  req: ApplyRequest,
  desired: KubeObject[],
  progress: ApplyProgress,
  log: Logger,
): Promise<void> {
  let intended = new Map(progress.previous.map((e) => [e.id, e]));
  const ownNamespaces = new Set(
    desired.filter((o) => o.kind === "Namespace" && o.apiVersion === "v1").map((o) => o.metadata.name!),
  );
  const namespacesChecked = new Set<string>();
  for (const stage of applyStages(desired)) {
    if (req.createNamespaces) {
      const created = await createMissingNamespaces(client, req.unit, stage, ownNamespaces, namespacesChecked).catch(
        (error: unknown) => progress.fail(`creating a missing namespace failed: ${(error as Error).message}`),
      );
      progress.changeSet.push(...created);
      if (created.length > 0) log.info({ namespaces: created.map((c) => c.ref) }, "created missing namespaces");
    }
    if (req.recordIntent) intended = await recordIntent(client, req.recordIntent, stage, intended, progress);
    await applyAll(client, stage, req, progress);
    const crds = stage.filter((o) => o.kind === "CustomResourceDefinition");
    if (crds.length > 0) {
      await waitHealthy(client, crds, Math.min(req.timeoutMs, 60_000)).catch((error: unknown) =>
        progress.fail(`CRDs not established: ${(error as Error).message}`),
      );
      await client
        .discovery(true)
        .catch((error: unknown) => progress.fail(`discovery after new CRDs failed: ${(error as Error).message}`));
    }
  }
}

/** Stores the inventory the cluster may hold once `stage` is written, when it grows; returns it. */
async function recordIntent(
  client: ClusterClient,
  record: NonNullable<ApplyRequest["recordIntent"]>,
  stage: readonly KubeObject[],
  intended: Map<string, InventoryEntry>,
  progress: ApplyProgress,
): Promise<Map<string, InventoryEntry>> {
  // Ids as the apply will write them: namespaces scoped by kind (CRDs of earlier stages known by now).
  for (const obj of stage) {
    const resource = await client.resourceOf(obj).catch(() => undefined);
    if (resource) scopeNamespace(obj, resource);
  }
  const next = new Map(intended);
  for (const e of inventoryOf(stage)) if (!next.has(e.id)) next.set(e.id, e);
  if (next.size === intended.size) return intended;
  await record([...next.values()].sort((a, b) => a.id.localeCompare(b.id))).catch((error: unknown) =>
    progress.fail(`recording the inventory before applying failed: ${(error as Error).message}`),
  );
  return next;
}

/**
 * ApplyAll of one stage: every object is read and, when it must be written, dry-run first; one
 * rejection fails the stage before anything in it is written. Objects start in stage order and a
 * rejection stops new work, so the earliest rejected object is the one reported. Writes already in
 * flight when one fails finish and count as applied.
 */
async function applyAll(
  client: ClusterClient,
  stage: readonly KubeObject[],
  req: ApplyRequest,
  progress: ApplyProgress,
): Promise<void> {
  const rejected: Array<{ index: number; object: string; message: string }> = [];
  const writes: Array<{ obj: KubeObject; write: Write }> = [];
  const concurrency = req.concurrency ?? 8;
  await inParallel(
    stage.map((obj, index) => ({ obj, index })),
    concurrency,
    async ({ obj, index }) => {
      const prepared = await prepareOne(client, obj, req.force ?? false).catch((error: unknown) => {
        rejected.push({ index, object: objectRef(obj), message: describe(obj, error) });
        throw error;
      });
      if ("write" in prepared) writes.push({ obj, write: prepared.write });
      else {
        progress.changeSet.push(prepared.entry);
        if (prepared.state) progress.states.set(obj, prepared.state);
        if (prepared.entry.action !== "skipped") progress.applied.push(obj);
      }
    },
  ).catch(() => {
    const first = rejected.sort((a, b) => a.index - b.index)[0]!;
    return progress.fail(first.message, first.object);
  });
  let writeFailure: { object: string; message: string } | undefined;
  await inParallel(writes, concurrency, async ({ obj, write }) => {
    const { entry, state } = await writeOne(client, obj, write).catch((error: unknown) => {
      writeFailure ??= { object: objectRef(obj), message: describe(obj, error) };
      throw error;
    });
    progress.changeSet.push(entry);
    progress.states.set(obj, state);
    progress.applied.push(obj);
  }).catch(() => progress.fail(writeFailure!.message, writeFailure!.object));
}

/** Delete: what left the unit, Namespaces last, each only while it still carries the unit's labels. */
async function pruneStale(
  client: ClusterClient,
  req: ApplyRequest,
  inventory: readonly InventoryEntry[],
  progress: ApplyProgress,
): Promise<void> {
  const labels = ownerLabels(req.unit);
  for (const entry of pruneCandidates(progress.previous, inventory)) {
    const result = await pruneOne(client, entry, labels).catch((error: unknown) =>
      progress.fail(`prune of ${entry.id} failed: ${describePrune(error)}`),
    );
    if (result) progress.changeSet.push(result);
  }
}

function describePrune(error: unknown): string {
  return error instanceof ApiError && error.status === 403
    ? `${error.reason}: ${error.message}`
    : (error as Error).message;
}

/** WaitForSet: every applied object with `wait`, else the objects `healthChecks` names, in the unit or not. */
async function waitForHealth(
  client: ClusterClient,
  req: ApplyRequest,
  inventory: InventoryEntry[],
  progress: ApplyProgress,
): Promise<void> {
  try {
    const checks = req.wait
      ? progress.applied
      : await healthCheckTargets(client, req.healthChecks ?? [], progress.applied, req.unit.namespace);
    if (checks.length > 0) await waitHealthy(client, checks, req.timeoutMs, progress.states, req.onHealthPending);
  } catch (error) {
    throw new HealthCheckFailure(
      error instanceof ApiError && error.status === 403
        ? `health check: ${error.reason}: ${error.message}`
        : (error as Error).message,
      inventory,
    );
  }
}

function describe(obj: KubeObject, error: unknown): string {
  // A denial names itself: `Forbidden: configmaps "x" is forbidden: User "system:serviceaccount:…" cannot …`.
  if (error instanceof ApiError)
    return `${objectRef(obj)}: ${error.status === 403 ? `${error.reason}: ` : ""}${error.message}`;
  if (error instanceof InvalidInputError) return error.describe();
  return `${objectRef(obj)}: ${(error as Error).message}`;
}

/** How an object that differs from the live one is written, once the whole stage has passed its dry runs. */
interface Write {
  path: string;
  id: string;
  ref: string;
  /** The object is absent; `fromCache`: the watch cache said so (the create may race another writer's). */
  create?: { fromCache: boolean };
  /** An immutable field changed and force is set: delete, then create. */
  recreate?: boolean;
}

/**
 * Reads one object and decides: unchanged or reconcile-disabled (done, with the state as last
 * seen), or to be written — after a server-side dry run, so a namespace that does not exist, an
 * invalid field or an admission denial rejects the stage before any of it is written.
 */
async function prepareOne(
  client: ClusterClient,
  obj: KubeObject,
  forceAll: boolean,
): Promise<{ entry: ChangeSetEntry; state?: KubeObject } | { write: Write }> {
  const resource = await resourceOrFail(client, obj);
  scopeNamespace(obj, resource);
  const id = objectId(obj);
  const ref = objectRef(obj);
  const path = ClusterClient.pathOf(resource, obj.metadata.namespace, obj.metadata.name);
  // First from the apiserver's watch cache (milliseconds behind etcd, and much cheaper to serve):
  // enough to prove an object unchanged, or absent and so to be created — server-side apply is an
  // upsert, so a create the cache had not seen yet still ends right. Anything else is read fresh.
  const cached = await getLive(client, path, { cached: true });
  if (cached.status === 404) {
    await serverSideApply(client, path, obj, true);
    return { write: { path, id, ref, create: { fromCache: true } } };
  }
  if (reconcileDisabled(obj, cached.body)) return { entry: { id, ref, action: "skipped", note: "reconcile disabled" } };
  if (unchangedByApply(obj, cached.body)) return { entry: { id, ref, action: "unchanged" }, state: cached.body };
  const live = await getLive(client, path);
  if (live.status === 404) {
    await serverSideApply(client, path, obj, true);
    return { write: { path, id, ref, create: { fromCache: false } } };
  }
  if (reconcileDisabled(obj, live.body)) return { entry: { id, ref, action: "skipped", note: "reconcile disabled" } };
  if (unchangedByApply(obj, live.body)) return { entry: { id, ref, action: "unchanged" }, state: live.body };
  let dry: KubeObject;
  try {
    dry = await serverSideApply(client, path, obj, true);
  } catch (error) {
    // Apiservers word it "field is immutable" or "may not change once set".
    const immutable =
      error instanceof ApiError &&
      error.status === 422 &&
      /immutable|may not change once set|cannot be changed/i.test(error.message);
    if (!immutable) throw error;
    if (!forceAll && obj.metadata.annotations?.[ANNOTATION_FORCE] !== "enabled") {
      throw new InvalidInputError(
        `${error.message} (set spec.force or annotate ${ANNOTATION_FORCE}: enabled to recreate it)`,
        {
          object: ref,
          field: immutableField(error.message),
        },
      );
    }
    return { write: { path, id, ref, recreate: true } };
  }
  if (dryRunChanges(live.body, dry).length === 0) return { entry: { id, ref, action: "unchanged" }, state: live.body };
  return { write: { path, id, ref } };
}

/** Writes one object that `prepareOne` found different; returns what was done and the state the apiserver returned. */
async function writeOne(
  client: ClusterClient,
  obj: KubeObject,
  w: Write,
): Promise<{ entry: ChangeSetEntry; state: KubeObject }> {
  const { path, id, ref } = w;
  if (w.recreate) {
    await client.request("DELETE", path, { propagationPolicy: "Background" }, { allow: [404], count: "delete" });
    const deadline = Date.now() + 60_000;
    while ((await client.request("GET", path, undefined, { allow: [404], count: "get" })).status !== 404) {
      if (Date.now() > deadline) throw new Error("timed out waiting for the old object to be deleted");
      await new Promise((r) => setTimeout(r, 200));
    }
    return {
      entry: { id, ref, action: "configured", note: "recreated" },
      state: await serverSideApply(client, path, obj, false),
    };
  }
  const state = await serverSideApply(client, path, obj, false);
  if (w.create)
    return {
      entry: { id, ref, action: !w.create.fromCache || onlyManagedByFlotilla(state) ? "created" : "configured" },
      state,
    };
  return { entry: { id, ref, action: "configured" }, state };
}

/** Whether every managedFields entry of an object is Flotilla's: it was created by this apply. */
function onlyManagedByFlotilla(o: KubeObject): boolean {
  const entries = Array.isArray(o.metadata.managedFields)
    ? (o.metadata.managedFields as Array<{ manager?: string }>)
    : [];
  return entries.length > 0 && entries.every((e) => e.manager === FIELD_MANAGER);
}

function immutableField(message: string): string | undefined {
  return /(spec\.[\w.[\]]+|metadata\.[\w.]+)/.exec(message)?.[1];
}
