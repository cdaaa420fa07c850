import { describe, expect, it } from "vitest";
import { isReady, setCondition } from "../../src/status/conditions.js";

const t0 = new Date("2026-01-01T00:00:00.000Z");
const t1 = new Date("2026-01-01T00:05:00.000Z");

describe("setCondition", () => {
  it("keeps the transition time while the status stays the same", () => {
    const first = setCondition(
      [],
      { type: "Ready", status: "True", reason: "ReconciliationSucceeded", message: "Applied revision: a" },
      t0,
    );
    const second = setCondition(
      first,
      { type: "Ready", status: "True", reason: "ReconciliationSucceeded", message: "Applied revision: b" },
      t1,
    );
    expect(second[0]).toMatchObject({ message: "Applied revision: b", lastTransitionTime: "2026-01-01T00:00:00Z" });
  });

  it("moves the transition time when the status flips, Ready first", () => {
    const first = setCondition(
      [{ type: "Reconciling", status: "True", reason: "Progressing", message: "", lastTransitionTime: "x" }],
      { type: "Ready", status: "True", reason: "R", message: "" },
      t0,
    );
    const second = setCondition(first, { type: "Ready", status: "False", reason: "BuildFailed", message: "bad" }, t1);
    expect(second.map((c) => c.type)).toEqual(["Ready", "Reconciling"]);
    expect(second[0]!.lastTransitionTime).toBe("2026-01-01T00:05:00Z");
  });
});

describe("isReady", () => {
  it("needs Ready=True observed at the current generation", () => {
    const conditions = setCondition([], { type: "Ready", status: "True", reason: "R", message: "" }, t0);
    expect(isReady({ metadata: { generation: 2 }, status: { conditions, observedGeneration: 2 } })).toBe(true);
    expect(isReady({ metadata: { generation: 3 }, status: { conditions, observedGeneration: 2 } })).toBe(false);
    expect(isReady({ metadata: {}, status: {} })).toBe(false);
  });
});
