import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../src/core/errors.js";
import { parseFlotillaConfig } from "../../src/plan/index.js";

const locationOf = (text: string) => {
  try {
    parseFlotillaConfig(text);
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidInputError);
    return (e as InvalidInputError).describe();
  }
  throw new Error("no error thrown");
};

describe("flotilla.yaml rollouts and windows", () => {
  it("reads the issue's waves and windows", () => {
    const config = parseFlotillaConfig(`
rollouts:
  prod:
    waves:
      - name: canary
        clusters: {matchLabels: {ring: canary}}   # labels of the Cluster API Cluster
        soak: 10m
      - name: rest
        maxConcurrent: 25%
    onFailure: halt
windows:
  - kind: allow
    schedule: "0 22 * * 1-4"
    duration: 4h
    timeZone: Europe/Berlin
    clusters: {matchLabels: {env: prod}}
`);
    expect(config.rollouts.prod).toEqual({
      onFailure: "halt",
      waves: [
        { name: "canary", clusters: { matchLabels: { ring: "canary" } }, soakMs: 600_000, approval: "auto" },
        { name: "rest", maxConcurrent: { percent: 25 }, soakMs: 0, approval: "auto" },
      ],
    });
    expect(config.windows).toHaveLength(1);
    expect(config.windows[0]).toMatchObject({
      kind: "allow",
      durationMs: 4 * 3_600_000,
      clusters: { matchLabels: { env: "prod" } },
      gates: ["revision", "prune"],
    });
    expect(config.windows[0]!.schedule).toMatchObject({ expression: "0 22 * * 1-4", timeZone: "Europe/Berlin" });
  });

  it("names file and field for an invalid cron expression, time zone, duration, wave or failure mode", () => {
    expect(locationOf(`windows: [{schedule: "0 22 * * 8", duration: 4h}]`)).toMatch(
      /^flotilla\.yaml: windows\[0\]\.schedule: '0 22 \* \* 8' is not a cron expression/,
    );
    expect(locationOf(`windows: [{schedule: "0 22 * * 1", duration: 4h, timeZone: Mars/Olympus}]`)).toMatch(
      /^flotilla\.yaml: windows\[0\]\.timeZone: 'Mars\/Olympus' is not an IANA time zone/,
    );
    expect(locationOf(`windows: [{schedule: "0 22 * * 1", duration: four}]`)).toMatch(
      /^flotilla\.yaml: windows\[0\]\.duration: /,
    );
    expect(locationOf(`rollouts: {prod: {waves: [{name: a, soak: soon}]}}`)).toMatch(
      /^flotilla\.yaml: rollouts\.prod\.waves\[0\]\.soak: /,
    );
    expect(locationOf(`rollouts: {prod: {waves: [{name: a, maxConcurrent: 0}]}}`)).toMatch(
      /^flotilla\.yaml: rollouts\.prod\.waves\[0\]\.maxConcurrent: /,
    );
    expect(locationOf(`rollouts: {prod: {waves: [{name: a, maxConcurrent: 150%}]}}`)).toMatch(
      /^flotilla\.yaml: rollouts\.prod\.waves\[0\]\.maxConcurrent: /,
    );
    expect(locationOf(`rollouts: {prod: {waves: [{name: a}, {name: a}]}}`)).toBe(
      "flotilla.yaml: rollouts.prod.waves[1].name: wave name 'a' is used twice",
    );
    expect(locationOf(`rollouts: {prod: {waves: [{name: a}], onFailure: panic}}`)).toBe(
      "flotilla.yaml: rollouts.prod.onFailure: must be halt or rollback, not 'panic'",
    );
    expect(locationOf(`rollouts: {prod: {waves: []}}`)).toBe(
      "flotilla.yaml: rollouts.prod.waves: needs at least one wave",
    );
    expect(locationOf(`rollouts: {prod: {waves: [{name: a, cluster: {}}]}}`)).toMatch(
      /^flotilla\.yaml: rollouts\.prod\.waves\[0\]\.cluster: unknown key 'cluster'/,
    );
  });
});
