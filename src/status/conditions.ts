import type { Condition } from "../core/flux.js";

/** The reasons Flux's controllers write on `Ready`, which Flotilla writes the same way. */
export const Reason = {
  Succeeded: "Succeeded",
  ReconciliationSucceeded: "ReconciliationSucceeded",
  Progressing: "Progressing",
  ArtifactFailed: "ArtifactFailed",
  GitOperationFailed: "GitOperationFailed",
  BuildFailed: "BuildFailed",
  ReconciliationFailed: "ReconciliationFailed",
  HealthCheckFailed: "HealthCheckFailed",
  DependencyNotReady: "DependencyNotReady",
  ClusterNotReady: "ClusterNotReady",
  PruneFailed: "PruneFailed",
  Suspended: "Suspended",
  /** Flux's acl.AccessDeniedReason: a cross-namespace reference under --no-cross-namespace-refs. */
  AccessDenied: "AccessDenied",
  /** Flux's source-controller URLInvalidReason: a GitRepository URL the controller refuses to read. */
  URLInvalid: "URLInvalid",
} as const;
export type ReasonName = (typeof Reason)[keyof typeof Reason];

/** `conditions` with Ready set (and its observedGeneration, when the object has a generation). */
export function setReady(
  conditions: readonly Condition[] | undefined,
  ready: Condition["status"],
  reason: string,
  message: string,
  generation: number | undefined,
  now: Date,
): Condition[] {
  const observed = generation !== undefined ? { observedGeneration: generation } : {};
  return setCondition(conditions, { type: "Ready", status: ready, reason, message, ...observed }, now);
}

/**
 * `conditions` with `next` set: the transition time moves only when the status changes, as the
 * Kubernetes API conventions ask. Returns a new array; the input is not changed.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  next: Omit<Condition, "lastTransitionTime">,
  now: Date,
): Condition[] {
  const current = conditions?.find((c) => c.type === next.type);
  const lastTransitionTime =
    current && current.status === next.status
      ? current.lastTransitionTime
      : now.toISOString().replace(/\.\d{3}Z$/, "Z");
  const updated: Condition = { ...next, lastTransitionTime };
  const others = (conditions ?? []).filter((c) => c.type !== next.type);
  return [updated, ...others].sort((a, b) =>
    a.type === "Ready" ? -1 : b.type === "Ready" ? 1 : a.type.localeCompare(b.type),
  );
}

/** The `Ready` condition, if any. */
export function readyCondition(conditions: readonly Condition[] | undefined): Condition | undefined {
  return conditions?.find((c) => c.type === "Ready");
}

/** Whether an object's `Ready` condition is True for its current generation. */
export function isReady(obj: { metadata: object; status?: object }): boolean {
  const status = obj.status as { conditions?: Condition[]; observedGeneration?: number } | undefined;
  const ready = readyCondition(status?.conditions);
  if (ready?.status !== "True") return false;
  const { generation } = obj.metadata as { generation?: unknown };
  return (
    typeof generation !== "number" ||
    status?.observedGeneration === undefined ||
    status.observedGeneration >= generation
  );
}
