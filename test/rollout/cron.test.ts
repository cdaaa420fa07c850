import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../src/core/errors.js";
import { parseCron } from "../../src/rollout/index.js";

const where = {
  expression: { file: "flotilla.yaml", field: "windows[0].schedule" },
  timeZone: { file: "flotilla.yaml", field: "windows[0].timeZone" },
};
const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

describe("cron occurrences in a time zone, from a given instant", () => {
  it("fires at 22:00 Berlin wall time on both sides of the spring DST change (21:00Z in CET, 20:00Z in CEST)", () => {
    const c = parseCron("0 22 * * 1-4", "Europe/Berlin", where);
    expect(iso(c.next(at("2026-03-23T12:00:00Z")))).toBe("2026-03-23T21:00:00.000Z"); // Monday, CET
    expect(iso(c.next(at("2026-03-26T21:00:00Z")))).toBe("2026-03-30T20:00:00.000Z"); // Thursday → next Monday, CEST
  });

  it("fires a wall time the spring-forward night skips as if the clock had not jumped (02:30 → 03:30 CEST)", () => {
    const c = parseCron("30 2 * * *", "Europe/Berlin", where);
    const skipped = c.next(at("2026-03-28T12:00:00Z"));
    expect(iso(skipped)).toBe("2026-03-29T01:30:00.000Z");
    expect(iso(c.next(skipped!))).toBe("2026-03-30T00:30:00.000Z");
  });

  it("fires a wall time the fall-back night repeats once, at its first instant", () => {
    const c = parseCron("30 2 * * *", "Europe/Berlin", where);
    const first = c.next(at("2026-10-24T12:00:00Z"));
    expect(iso(first)).toBe("2026-10-25T00:30:00.000Z"); // 02:30 CEST
    expect(iso(c.next(first!))).toBe("2026-10-26T01:30:00.000Z"); // not 01:30Z on the 25th (02:30 CET again)
  });

  it("finds the previous occurrence within a lookback, and none beyond it", () => {
    const c = parseCron("0 22 * * 1-4", "Europe/Berlin", where);
    expect(iso(c.previous(at("2026-03-24T01:00:00Z"), 4 * 3_600_000))).toBe("2026-03-23T21:00:00.000Z");
    expect(c.previous(at("2026-03-24T01:00:00Z"), 3_600_000)).toBeUndefined();
  });

  it("matches either day field when both are restricted, as Vixie cron and Kubernetes CronJob do", () => {
    const c = parseCron("0 0 1 * 1", "UTC", where);
    // 2026-06-01 is a Monday; next: Monday 8th, not only the 1st of July.
    expect(iso(c.next(at("2026-05-30T00:00:00Z")))).toBe("2026-06-01T00:00:00.000Z");
    expect(iso(c.next(at("2026-06-01T00:00:00Z")))).toBe("2026-06-08T00:00:00.000Z");
    // Only one restricted: both must hold (every Monday in June only).
    const monthly = parseCron("0 0 * 6 1", "UTC", where);
    expect(iso(monthly.next(at("2026-06-29T00:00:00Z")))).toBe("2027-06-07T00:00:00.000Z");
  });

  it("understands node-cron's L and # tokens (last day of month, nth weekday)", () => {
    expect(iso(parseCron("0 3 L * *", "UTC", where).next(at("2026-02-01T00:00:00Z")))).toBe("2026-02-28T03:00:00.000Z");
    expect(iso(parseCron("0 3 * * 2#2", "UTC", where).next(at("2026-02-01T00:00:00Z")))).toBe(
      "2026-02-10T03:00:00.000Z",
    );
  });

  it("rejects a bad expression naming the schedule field, and a bad zone naming the timeZone field", () => {
    const bad = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e as InvalidInputError;
      }
      throw new Error("no error");
    };
    const e1 = bad(() => parseCron("0 25 * * *", "UTC", where));
    expect(e1).toBeInstanceOf(InvalidInputError);
    expect(e1.describe()).toBe(
      "flotilla.yaml: windows[0].schedule: '0 25 * * *' is not a cron expression: hour: 25 is a invalid expression for hour",
    );
    const e2 = bad(() => parseCron("0 22 * * *", "Europe/Berlinn", where));
    expect(e2.describe()).toMatch(
      /^flotilla\.yaml: windows\[0\]\.timeZone: 'Europe\/Berlinn' is not an IANA time zone/,
    );
  });
});
