import { describe, expect, it } from "vitest";
import { parseWindows, unitGate, windowState } from "../../src/rollout/index.js";
import { ManualClock } from "../support/manual-clock.js";

const M = 60_000;
const night = (gates?: string[]) =>
  parseWindows(
    [{ schedule: "0 22 * * *", duration: "4h", timeZone: "Europe/Berlin", ...(gates ? { gates } : {}) }],
    { file: "flotilla.yaml" },
    "windows",
  );

describe("the gate of one unit", () => {
  it("starts a new revision only inside the window, and not when the unit's timeout would run past its close", () => {
    const clock = new ManualClock(Date.parse("2026-04-07T12:00:00Z"));
    const gate = () =>
      unitGate({
        pin: "v2",
        waitingFor: "wave rest",
        lastAppliedRevision: "v1",
        window: windowState(night(), clock.now()),
        timeoutMs: 30 * M,
        nowMs: clock.now(),
      });
    const closed = gate(); // keeps v1, correcting drift without prune
    expect(closed).toMatchObject({
      apply: true,
      revision: "v1",
      prune: false,
      recheckAtMs: Date.parse("2026-04-07T20:00:00Z"),
    });
    expect(closed.apply && closed.waiting).toMatch(
      /^revision v2 waits for the cluster's maintenance window: outside allow window '0 22 \* \* \*' \(Europe\/Berlin\)/,
    );
    clock.set("2026-04-07T20:00:00Z");
    expect(gate()).toEqual({ apply: true, revision: "v2", prune: true });
    clock.set("2026-04-07T23:40:00Z"); // closes 00:00Z; 30m timeout would end 00:10Z
    expect(gate()).toMatchObject({ apply: true, revision: "v1", prune: false });
  });

  it("corrects drift at the applied revision outside the window, without pruning", () => {
    const now = Date.parse("2026-04-07T12:00:00Z");
    expect(
      unitGate({
        pin: "v1",
        waitingFor: "w",
        lastAppliedRevision: "v1",
        window: windowState(night(), now),
        timeoutMs: M,
        nowMs: now,
      }),
    ).toEqual({ apply: true, revision: "v1", prune: false });
  });

  it("holds drift correction too when the window's gates list drift", () => {
    const now = Date.parse("2026-04-07T12:00:00Z");
    expect(
      unitGate({
        pin: "v1",
        waitingFor: "w",
        lastAppliedRevision: "v1",
        window: windowState(night(["drift"]), now),
        timeoutMs: M,
        nowMs: now,
      }),
    ).toMatchObject({ apply: false });
    expect(
      unitGate({
        pin: "v2",
        waitingFor: "w",
        lastAppliedRevision: "v1",
        window: windowState(night(["drift"]), now),
        timeoutMs: M,
        nowMs: now,
      }),
    ).toMatchObject({ apply: false });
  });

  it("holds a cluster with no revision at all until its wave", () => {
    expect(
      unitGate({
        pin: undefined,
        waitingFor: "wave rest",
        lastAppliedRevision: undefined,
        window: undefined,
        timeoutMs: M,
        nowMs: 0,
      }),
    ).toEqual({ apply: false, reason: "waiting for wave rest: the cluster has no revision yet" });
  });
});
