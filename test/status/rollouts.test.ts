import { describe, expect, it } from "vitest";
import type { RolloutObject } from "../../src/rollout/index.js";
import { formatRollout, rolloutSettled, waveRows } from "../../src/status/rollouts.js";

const rollout: RolloutObject = {
  apiVersion: "flotilla.dev/v1alpha1",
  kind: "Rollout",
  metadata: { name: "prod", namespace: "flux-system" },
  spec: { sourceRef: { name: "release" }, waves: [] },
  status: {
    phase: "Halted",
    targetRevision: "v1.1.0@sha1:2222",
    stableRevision: "v1.0.0@sha1:1111",
    conditions: [
      {
        type: "Ready",
        status: "False",
        reason: "RolloutHalted",
        message: "halted: cluster prod-canary, unit prod-canary/apps: Deployment/web/web: CrashLoopBackOff",
        lastTransitionTime: "2026-01-01T00:00:00Z",
      },
    ],
    waves: [
      {
        name: "canary",
        total: 1,
        updated: 0,
        progressing: 0,
        waitingForWindow: 0,
        failed: 1,
        phase: "Failed",
        reason: "cluster prod-canary, unit prod-canary/apps: Deployment/web/web: CrashLoopBackOff",
      },
      { name: "rest", total: 3, updated: 0, progressing: 0, waitingForWindow: 1, failed: 0, phase: "Pending" },
    ],
    windows: [
      {
        kind: "allow",
        schedule: "0 22 * * 1-4",
        timeZone: "Europe/Berlin",
        open: false,
        nextOpen: "2026-03-23T21:00:00Z",
      },
    ],
  },
};

describe("the waves of a Rollout, as tables", () => {
  it("gives each wave updated/total, phase and reason", () => {
    expect(waveRows([rollout])).toEqual([
      {
        rollout: "flux-system/prod",
        wave: "canary",
        updated: "0/1",
        phase: "Failed",
        reason: "cluster prod-canary, unit prod-canary/apps: Deployment/web/web: CrashLoopBackOff; 1 failed",
      },
      { rollout: "flux-system/prod", wave: "rest", updated: "0/3", phase: "Pending", reason: "1 waiting for window" },
    ]);
  });

  it("prints the headline, the waves and the windows with next open and close", () => {
    const text = formatRollout(rollout);
    expect(text).toContain("Rollout flux-system/prod: Halted");
    expect(text).toContain("target: v1.1.0@sha1:2222   stable: v1.0.0@sha1:1111");
    expect(text).toMatch(/WAVE\s+UPDATED\s+PHASE\s+REASON\ncanary\s+0\/1\s+Failed\s+cluster prod-canary/);
    expect(text).toMatch(/allow '0 22 \* \* 1-4'\s+Europe\/Berlin\s+no\s+2026-03-23T21:00:00Z\s+-/);
    expect(rolloutSettled(rollout)).toBe(false);
  });

  it("shows a Rollout not yet reconciled as one pending line", () => {
    expect(waveRows([{ ...rollout, status: undefined }])).toEqual([
      { rollout: "flux-system/prod", wave: "-", updated: "-", phase: "Pending", reason: "waiting to be reconciled" },
    ]);
  });
});
