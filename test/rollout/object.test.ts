import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../src/core/errors.js";
import { parseFlotillaConfig } from "../../src/plan/index.js";
import {
  controlOf,
  rolloutManifest,
  rolloutSpecOf,
  stateOf,
  statusOf,
  stepRollout,
  type RolloutObject,
} from "../../src/rollout/index.js";

const config = parseFlotillaConfig(`
rollouts:
  prod:
    waves:
      - {name: canary, clusters: {matchLabels: {ring: canary}}, soak: 10m}
      - {name: rest, maxConcurrent: 25%, approval: manual}
    onFailure: rollback
windows:
  - {kind: allow, schedule: "0 22 * * 1-4", duration: 4h, timeZone: Europe/Berlin, clusters: {matchLabels: {env: prod}}}
`);

describe("the Rollout object", () => {
  it("says in its manifest what flotilla.yaml says, and reads back to the same spec", () => {
    const r = rolloutManifest(
      "prod",
      "flux-system",
      { name: "release", namespace: "flux-system" },
      config.rollouts.prod!,
      config.windows,
      {},
    );
    expect(r.spec.waves).toEqual([
      { name: "canary", clusters: { matchLabels: { ring: "canary" } }, soak: "10m0s" },
      { name: "rest", maxConcurrent: "25%", approval: "manual" },
    ]);
    const back = rolloutSpecOf(r);
    expect(back.spec).toEqual(config.rollouts.prod);
    expect(back.sourceKey).toBe("flux-system/release");
    expect(back.windows[0]).toMatchObject({ kind: "allow", durationMs: 4 * 3_600_000, gates: ["revision", "prune"] });
  });

  it("names the object and field of a bad spec", () => {
    const r = rolloutManifest(
      "prod",
      "flux-system",
      { name: "release", namespace: "flux-system" },
      config.rollouts.prod!,
      [],
      {},
    );
    r.spec.windows = [{ schedule: "61 * * * *", duration: "1h" }];
    try {
      rolloutSpecOf(r);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InvalidInputError);
      expect((e as InvalidInputError).describe()).toMatch(
        /^Rollout\/flux-system\/prod: spec\.windows\[0\]\.schedule: '61 \* \* \* \*' is not a cron expression/,
      );
    }
    expect(() => rolloutSpecOf({ ...r, spec: { ...r.spec, sourceRef: { name: "" } } } as RolloutObject)).toThrow(
      /needs the name of a GitRepository/,
    );
  });

  it("keeps its state in status across a restart, with waves as counts and windows with nextOpen/nextClose", () => {
    const r = rolloutManifest(
      "prod",
      "flux-system",
      { name: "release", namespace: "flux-system" },
      config.rollouts.prod!,
      config.windows,
      {},
    );
    const { spec, windows } = rolloutSpecOf(r);
    const now = Date.parse("2026-03-23T12:00:00Z");
    const d = stepRollout({
      spec,
      state: stateOf(undefined),
      newest: "v1@sha1:1",
      clusters: [
        {
          name: "c",
          labels: { ring: "canary" },
          units: [
            {
              name: "u",
              timeoutMs: 1,
              ready: true,
              lastAppliedRevision: "v1@sha1:1",
              lastAttemptedRevision: "v1@sha1:1",
            },
          ],
        },
      ],
      control: controlOf(r),
      nowMs: now,
    });
    const status = statusOf(
      d,
      windows,
      spec.waves.map((w) => w.name),
      now,
    );
    expect(status).toMatchObject({
      phase: "Soaking",
      targetRevision: "v1@sha1:1",
      activeWave: "canary",
      soakStartedAt: "2026-03-23T12:00:00Z",
    });
    expect(status.waves).toEqual([
      {
        name: "canary",
        total: 1,
        updated: 1,
        progressing: 0,
        waitingForWindow: 0,
        failed: 0,
        phase: "Soaking",
        reason: "soaking since 2026-03-23T12:00:00.000Z",
      },
      { name: "rest", total: 0, updated: 0, progressing: 0, waitingForWindow: 0, failed: 0, phase: "Pending" },
    ]);
    expect(status.windows).toEqual([
      {
        kind: "allow",
        schedule: "0 22 * * 1-4",
        timeZone: "Europe/Berlin",
        open: false,
        nextOpen: "2026-03-23T21:00:00Z",
      },
    ]);
    expect(stateOf(JSON.parse(JSON.stringify(status)))).toEqual(d.state);
  });

  it("reads pause from spec.suspend and approve/retry from annotations, so kubectl can do what the CLI does", () => {
    const r = rolloutManifest(
      "prod",
      "flux-system",
      { name: "release", namespace: "flux-system" },
      config.rollouts.prod!,
      [],
      {},
    );
    expect(controlOf(r)).toEqual({ paused: false });
    r.spec.suspend = true;
    r.metadata.annotations = { "flotilla.dev/approve": "rest@v1@sha1:1", "flotilla.dev/retry": "2026-03-23T12:00:00Z" };
    expect(controlOf(r)).toEqual({ paused: true, approve: "rest@v1@sha1:1", retry: "2026-03-23T12:00:00Z" });
  });
});
