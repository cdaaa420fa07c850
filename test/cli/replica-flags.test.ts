import { describe, expect, it } from "vitest";
import { parseReplicaFlags } from "../../src/cli/replica-flags.js";

describe("flotilla controller: replica and sharding flags", () => {
  it("runs as one controller without --lease-namespace", () => {
    expect(parseReplicaFlags({}, {})).toEqual({});
    expect(parseReplicaFlags({ "watch-label-selector": "!sharding.fluxcd.io/key" }, {})).toEqual({
      watchLabelSelector: "!sharding.fluxcd.io/key",
    });
  });

  it("takes client-go's durations by default and the pod's name as identity", () => {
    expect(
      parseReplicaFlags({ "lease-namespace": "flux-system" }, { POD_NAME: "flotilla-controller-7d9f8-abcde" }),
    ).toEqual({
      replicas: {
        identity: "flotilla-controller-7d9f8-abcde",
        namespace: "flux-system",
        leaseDurationMs: 15_000,
        renewDeadlineMs: 10_000,
        retryPeriodMs: 2_000,
      },
    });
    const r = parseReplicaFlags(
      {
        "lease-namespace": "ns",
        "replica-id": "r-1",
        "lease-duration": "6s",
        "renew-deadline": "4s",
        "retry-period": "1s",
        "watch-label-selector": "sharding.fluxcd.io/key in (shard1)",
      },
      {},
    );
    expect(r).toEqual({
      replicas: { identity: "r-1", namespace: "ns", leaseDurationMs: 6000, renewDeadlineMs: 4000, retryPeriodMs: 1000 },
      watchLabelSelector: "sharding.fluxcd.io/key in (shard1)",
    });
  });

  it.each([
    [{ "lease-namespace": "Flux_System" }, /--lease-namespace must be a namespace name/],
    [{ "lease-namespace": "ns", "replica-id": "Bad/Name" }, /--replica-id must be a pod name/],
    [
      { "lease-namespace": "ns", "replica-id": "r", "lease-duration": "10s", "renew-deadline": "10s" },
      /--retry-period < --renew-deadline/,
    ],
    [{ "lease-namespace": "ns", "replica-id": "r", "retry-period": "1ms" }, /--retry-period must be between/],
    [{ "lease-namespace": "ns", "replica-id": "r", "lease-duration": "soon" }, /--lease-duration/],
    [{ "replica-id": "r" }, /--replica-id needs --lease-namespace/],
    [{ "watch-label-selector": "a=b&watch=true" }, /--watch-label-selector must be a label selector/],
    [{ "watch-label-selector": "a=b\nc" }, /--watch-label-selector must be a label selector/],
  ])("refuses %j", (values, message) => {
    expect(() => parseReplicaFlags(values, {})).toThrow(message);
  });
});
