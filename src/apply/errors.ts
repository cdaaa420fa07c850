import type { InventoryEntry } from "../core/flux.js";

/**
 * An apply that failed part-way; `inventory` is what the cluster holds now (never less than
 * before), `object` the object that was rejected (`Kind/namespace/name`), when one was.
 */
export class ApplyFailure extends Error {
  constructor(
    message: string,
    readonly inventory: InventoryEntry[],
    readonly object?: string,
  ) {
    super(message);
    this.name = "ApplyFailure";
  }
}

/** Objects were applied but did not become healthy in time; the message names them and why. */
export class HealthCheckFailure extends Error {
  constructor(
    message: string,
    readonly inventory: InventoryEntry[],
  ) {
    super(message);
    this.name = "HealthCheckFailure";
  }
}
