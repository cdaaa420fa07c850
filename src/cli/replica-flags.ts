import { hostname } from "node:os";
import { parseDuration } from "../core/duration.js";
import { InvalidInputError } from "../core/errors.js";
import type { ControllerOptions } from "../controller/index.js";

/** Active-active replicas and Flux sharding, as parseArgs options (README, "Replicas"). */
export const REPLICA_FLAGS = {
  // Run as one of N replicas with Leases in this namespace (deploy/: the pod's own namespace).
  "lease-namespace": { type: "string" },
  // This replica's name (holderIdentity, User-Agent); default $POD_NAME, else the host name.
  "replica-id": { type: "string" },
  // client-go leader election's durations: 15s, 10s, 2s.
  "lease-duration": { type: "string" },
  "renew-deadline": { type: "string" },
  "retry-period": { type: "string" },
  // Flux's sharding: only Kustomizations matching this label selector.
  "watch-label-selector": { type: "string" },
} as const;

type ReplicaValues = Partial<Record<keyof typeof REPLICA_FLAGS, string>>;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
/** A label selector's characters (keys, values, operators, sets); its grammar is the apiserver's to check. */
const SELECTOR = /^[A-Za-z0-9._/\-!=,() ]{1,1024}$/;

/** The controller options the flags set; none without `--lease-namespace` or `--watch-label-selector`. */
export function parseReplicaFlags(
  values: ReplicaValues,
  env: NodeJS.ProcessEnv = process.env,
): Pick<ControllerOptions, "replicas" | "watchLabelSelector"> {
  const selector = values["watch-label-selector"]?.trim();
  if (selector !== undefined && !SELECTOR.test(selector))
    throw new InvalidInputError(
      `--watch-label-selector must be a label selector (e.g. 'sharding.fluxcd.io/key in (shard1)'), not '${selector}'`,
      {
        field: "--watch-label-selector",
      },
    );
  const namespace = values["lease-namespace"];
  const timing = ["replica-id", "lease-duration", "renew-deadline", "retry-period"] as const;
  if (namespace === undefined) {
    const stray = timing.find((f) => values[f] !== undefined);
    if (stray) throw new InvalidInputError(`--${stray} needs --lease-namespace (replicas)`, { field: `--${stray}` });
    return selector ? { watchLabelSelector: selector } : {};
  }
  if (!DNS_LABEL.test(namespace))
    throw new InvalidInputError(`--lease-namespace must be a namespace name, not '${namespace}'`, {
      field: "--lease-namespace",
    });
  const identity = values["replica-id"] ?? env.POD_NAME ?? hostname().toLowerCase();
  if (!DNS_SUBDOMAIN.test(identity))
    throw new InvalidInputError(
      `--replica-id must be a pod name (lowercase letters, digits, '-' and '.'), not '${identity}'`,
      {
        field: "--replica-id",
      },
    );
  const ms = (flag: "lease-duration" | "renew-deadline" | "retry-period", fallback: number) => {
    const text = values[flag];
    let value = fallback;
    try {
      if (text !== undefined) value = parseDuration(text, { field: `--${flag}` });
    } catch (error) {
      throw new InvalidInputError(`--${flag}: ${(error as Error).message}`, { field: `--${flag}` });
    }
    if (value < 100 || value > 3_600_000)
      throw new InvalidInputError(`--${flag} must be between 100ms and 1h, not '${text}'`, { field: `--${flag}` });
    return value;
  };
  const leaseDurationMs = ms("lease-duration", 15_000);
  const renewDeadlineMs = ms("renew-deadline", 10_000);
  const retryPeriodMs = ms("retry-period", 2_000);
  if (!(retryPeriodMs < renewDeadlineMs && renewDeadlineMs < leaseDurationMs))
    throw new InvalidInputError(
      "--retry-period < --renew-deadline < --lease-duration must hold (client-go: 2s, 10s, 15s)",
      {
        field: "--lease-duration",
      },
    );
  return {
    replicas: { identity, namespace, leaseDurationMs, renewDeadlineMs, retryPeriodMs },
    ...(selector ? { watchLabelSelector: selector } : {}),
  };
}
