import { describe, expect, it } from "vitest";
import { fieldChanges, isMasked, maskSecret } from "../../src/core/field-diff.js";

describe("fieldChanges", () => {
  it("reports added, removed and changed leaves with their paths", () => {
    const from = { spec: { replicas: 1, paused: true, selector: { app: "a" } } };
    const to = { spec: { replicas: 3, selector: { app: "a" }, strategy: { type: "Recreate" } } };
    expect(fieldChanges(from, to)).toEqual([
      { path: "spec.paused", change: "removed", from: true },
      { path: "spec.replicas", change: "changed", from: 1, to: 3 },
      { path: "spec.strategy", change: "added", to: { type: "Recreate" } },
    ]);
  });

  it("matches named list items by name, not position", () => {
    const from = { containers: [{ name: "a", image: "a:1" }, { name: "b", image: "b:1" }] };
    const to = { containers: [{ name: "b", image: "b:2" }, { name: "a", image: "a:1" }] };
    expect(fieldChanges(from, to)).toEqual([{ path: "containers[name=b].image", change: "changed", from: "b:1", to: "b:2" }]);
  });

  it("treats a list of another length as one change", () => {
    expect(fieldChanges({ args: ["a"] }, { args: ["a", "b"] })).toEqual([{ path: "args", change: "changed", from: ["a"], to: ["a", "b"] }]);
  });

  it("finds nothing between equal objects whatever their key order", () => {
    expect(fieldChanges({ a: 1, b: [{ c: 2 }] }, { b: [{ c: 2 }], a: 1 })).toEqual([]);
  });
});

describe("maskSecret", () => {
  const secret = { apiVersion: "v1", kind: "Secret", metadata: { name: "s" }, data: { password: "aHVudGVyMg==" }, stringData: { token: "t0ken" } };

  it("never shows Secret values yet still tells that one changed", () => {
    const before = maskSecret(secret);
    const after = maskSecret({ ...secret, data: { password: "c2VjcmV0" } });
    const text = JSON.stringify([before, after, fieldChanges(before, after)]);
    expect(text).not.toContain("aHVudGVyMg==");
    expect(text).not.toContain("c2VjcmV0");
    expect(text).not.toContain("t0ken");
    const changes = fieldChanges(before, after);
    expect(changes).toHaveLength(1);
    expect(changes[0]!.path).toBe("data.password");
    expect(isMasked(changes[0]!.from) && isMasked(changes[0]!.to)).toBe(true);
  });

  it("leaves other kinds alone", () => {
    const cm = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" }, data: { a: "b" } };
    expect(maskSecret(cm)).toBe(cm);
  });
});
