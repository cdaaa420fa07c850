import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "../../src/core/duration.js";

describe("parseDuration", () => {
  it("reads Go durations as Flux writes them", () => {
    expect(parseDuration("1m0s")).toBe(60_000);
    expect(parseDuration("10m")).toBe(600_000);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("1.5s")).toBe(1500);
  });

  it("names the field of a malformed duration", () => {
    expect(() =>
      parseDuration("ten minutes", { object: "Kustomization/flux-system/mgmt", field: "spec.interval" }),
    ).toThrow(
      expect.objectContaining({ location: { object: "Kustomization/flux-system/mgmt", field: "spec.interval" } }),
    );
    expect(() => parseDuration("5")).toThrow(/not a duration/);
  });
});

describe("formatDuration", () => {
  it("prints milliseconds the way Flux does", () => {
    expect(formatDuration(60_000)).toBe("1m0s");
    expect(formatDuration(5_400_000)).toBe("1h30m0s");
    expect(formatDuration(2500)).toBe("2.500s");
  });
});
