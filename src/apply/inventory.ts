import type { InventoryEntry } from "../core/flux.js";
import { objectId, type KubeObject } from "../core/object.js";

/** A unit's inventory in Flux's format, sorted by id. */
export function inventoryOf(objects: readonly KubeObject[]): InventoryEntry[] {
  return objects
    .map((o) => ({
      id: objectId(o),
      v: o.apiVersion.includes("/") ? o.apiVersion.slice(o.apiVersion.indexOf("/") + 1) : o.apiVersion,
    }))
    .sort((a, b) => a.id.localeCompare(b.id));
}

/** An inventory id back to namespace, name, group and kind. */
export function parseInventoryId(id: string): { namespace: string; name: string; group: string; kind: string } {
  const parts = id.split("_");
  const kind = parts.pop()!;
  const group = parts.pop()!;
  const namespace = parts.shift()!;
  return { namespace, name: parts.join("_"), group, kind };
}

/** Entries of `previous` that `current` no longer holds: what prune may delete. */
export function staleEntries(
  previous: readonly InventoryEntry[],
  current: readonly InventoryEntry[],
): InventoryEntry[] {
  const keep = new Set(current.map((e) => e.id));
  return previous.filter((e) => !keep.has(e.id));
}

/** The apiVersion of an inventory entry. */
export function apiVersionOf(entry: InventoryEntry): string {
  const { group } = parseInventoryId(entry.id);
  return group ? `${group}/${entry.v}` : entry.v;
}
