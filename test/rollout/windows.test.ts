import { InvalidInputError } from "../../src/core/errors.js";
import { describe, expect, it } from "vitest";
import { parseWindows, windowState, windowsOf, mayStart, type WindowSpec } from "../../src/rollout/index.js";
import { ManualClock } from "../support/manual-clock.js";

const windows = (yaml: unknown[]): WindowSpec[] => parseWindows(yaml, { file: "flotilla.yaml" }, "windows");
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
const H = 3_600_000;
const fieldOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidInputError);
    return (e as InvalidInputError).location.field;
  }
  throw new Error("no error thrown");
};

describe("maintenance windows on the controller's clock", () => {
  const berlin = windows([
    {
      kind: "allow",
      schedule: "0 22 * * 1-4",
      duration: "4h",
      timeZone: "Europe/Berlin",
      clusters: { matchLabels: { env: "prod" } },
    },
  ]);

  it("is open from 22:00 Berlin for 4 hours on Monday to Thursday, and says when it next opens and closes", () => {
    const clock = new ManualClock(Date.parse("2026-03-23T12:00:00Z")); // Monday 13:00 CET
    let s = windowState(berlin, clock.now());
    expect(s.open).toBe(false);
    expect(s.reason).toBe("outside allow window '0 22 * * 1-4' (Europe/Berlin)");
    expect(iso(s.nextOpen)).toBe("2026-03-23T21:00:00.000Z");
    clock.set("2026-03-23T22:30:00Z");
    s = windowState(berlin, clock.now());
    expect(s.open).toBe(true);
    expect(iso(s.nextClose)).toBe("2026-03-24T01:00:00.000Z");
    clock.set("2026-03-24T01:00:00Z");
    expect(windowState(berlin, clock.now()).open).toBe(false);
  });

  it("crosses the DST change in Europe/Berlin: Thursday's window opens at 21:00Z, next Monday's at 20:00Z", () => {
    const clock = new ManualClock(Date.parse("2026-03-27T02:00:00Z")); // Friday, after Thursday's window
    const s = windowState(berlin, clock.now());
    expect(s.open).toBe(false);
    expect(iso(s.nextOpen)).toBe("2026-03-30T20:00:00.000Z"); // 22:00 CEST
    clock.set("2026-03-30T20:00:00Z");
    expect(windowState(berlin, clock.now()).open).toBe(true);
    expect(iso(windowState(berlin, clock.now()).nextClose)).toBe("2026-03-31T00:00:00.000Z");
  });

  it("lasts its duration in real time across the fall-back night (23:00 CEST + 4h closes at 02:00 CET)", () => {
    const sat = windows([{ schedule: "0 23 * * 6", duration: "4h", timeZone: "Europe/Berlin" }]);
    const clock = new ManualClock(Date.parse("2026-10-24T21:30:00Z")); // Saturday 23:30 CEST
    const s = windowState(sat, clock.now());
    expect(s.open).toBe(true);
    expect(iso(s.nextClose)).toBe("2026-10-25T01:00:00.000Z");
    clock.set("2026-10-25T01:00:00Z");
    const after = windowState(sat, clock.now());
    expect(after.open).toBe(false);
    expect(iso(after.nextOpen)).toBe("2026-10-31T22:00:00.000Z"); // 23:00 CET
  });

  it("lets a deny window win over an allow window that covers it", () => {
    const w = windows([
      { kind: "allow", schedule: "0 0 * * *", duration: "24h" },
      { kind: "deny", schedule: "0 12 * * *", duration: "2h" },
    ]);
    const s = windowState(w, Date.parse("2026-05-05T13:00:00Z"));
    expect(s.open).toBe(false);
    expect(s.reason).toBe("inside deny window '0 12 * * *' (UTC)");
    expect(iso(s.nextOpen)).toBe("2026-05-05T14:00:00.000Z");
    const before = windowState(w, Date.parse("2026-05-05T11:00:00Z"));
    expect(before.open).toBe(true);
    expect(iso(before.nextClose)).toBe("2026-05-05T12:00:00.000Z");
  });

  it("opens at once with a break-glass until its expiry, even inside a deny window", () => {
    const now = Date.parse("2026-03-23T12:00:00Z");
    const s = windowState(berlin, now, { untilMs: now + H });
    expect(s).toMatchObject({ open: true, breakGlass: true });
    expect(iso(s.nextClose)).toBe("2026-03-23T13:00:00.000Z");
    expect(windowState(berlin, now + H, { untilMs: now + H }).open).toBe(false);
    const deny = windows([{ kind: "deny", schedule: "0 * * * *", duration: "1h" }]);
    expect(windowState(deny, now, { untilMs: now + H }).open).toBe(true);
    expect(windowState(deny, now).open).toBe(false);
  });

  it("does not start an apply whose timeout would run past the window's close", () => {
    const s = windowState(berlin, Date.parse("2026-03-24T00:30:00Z")); // closes 01:00Z
    expect(mayStart(s, Date.parse("2026-03-24T00:30:00Z"), 10 * 60_000).ok).toBe(true);
    const late = mayStart(s, Date.parse("2026-03-24T00:30:00Z"), 45 * 60_000);
    expect(late.ok).toBe(false);
    expect(late.reason).toContain("the window closes at 2026-03-24T01:00:00.000Z");
  });

  it("applies a window only to the clusters its selector matches", () => {
    expect(windowsOf(berlin, { env: "prod" })).toHaveLength(1);
    expect(windowsOf(berlin, { env: "dev" })).toHaveLength(0);
    expect(windowState(windowsOf(berlin, { env: "dev" }), Date.parse("2026-03-23T12:00:00Z")).open).toBe(true);
  });

  it("reads gates (drift only when listed) and rejects an unknown gate, kind or a zero duration by field", () => {
    expect(windowState(windows([{ schedule: "0 0 * * *", duration: "1h", gates: ["drift"] }]), 0).gates).toEqual([
      "revision",
      "prune",
      "drift",
    ]);
    expect(windowState(berlin, 0).gates).toEqual(["revision", "prune"]);
    expect(fieldOf(() => windows([{ schedule: "0 0 * * *", duration: "1h", gates: ["everything"] }]))).toBe(
      "windows[0].gates[0]",
    );
    expect(fieldOf(() => windows([{ kind: "maybe", schedule: "0 0 * * *", duration: "1h" }]))).toBe("windows[0].kind");
    expect(fieldOf(() => windows([{ schedule: "0 0 * * *", duration: "0" }]))).toBe("windows[0].duration");
  });
});
