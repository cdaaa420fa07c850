/** What an apply did to one object. */
export type Action = "created" | "configured" | "unchanged" | "deleted" | "skipped";

export interface ChangeSetEntry {
  /** Inventory id `<ns>_<name>_<group>_<kind>`. */
  id: string;
  /** `Kind/namespace/name` */
  ref: string;
  action: Action;
  /** Why an object was skipped or how it was written (`recreated` with force). */
  note?: string;
}

/** A one-line summary (`created 3, configured 1, deleted 2`); empty when nothing was written. */
export function summarize(changes: readonly ChangeSetEntry[]): string {
  const counts = new Map<Action, number>();
  for (const c of changes) counts.set(c.action, (counts.get(c.action) ?? 0) + 1);
  return (["created", "configured", "deleted"] as const)
    .filter((a) => counts.get(a))
    .map((a) => `${a} ${counts.get(a)}`)
    .join(", ");
}
