import { describe, expect, it } from "vitest";
import { fieldChanges, isMasked, maskSecrets } from "../../src/core/field-diff.js";
import type { KubeObject } from "../../src/core/object.js";

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
    const from = {
      containers: [
        { name: "a", image: "a:1" },
        { name: "b", image: "b:1" },
      ],
    };
    const to = {
      containers: [
        { name: "b", image: "b:2" },
        { name: "a", image: "a:1" },
      ],
    };
    expect(fieldChanges(from, to)).toEqual([
      { path: "containers[name=b].image", change: "changed", from: "b:1", to: "b:2" },
    ]);
  });

  it("treats a list of another length as one change", () => {
    expect(fieldChanges({ args: ["a"] }, { args: ["a", "b"] })).toEqual([
      { path: "args", change: "changed", from: ["a"], to: ["a", "b"] },
    ]);
  });

  it("finds nothing between equal objects whatever their key order", () => {
    expect(fieldChanges({ a: 1, b: [{ c: 2 }] }, { b: [{ c: 2 }], a: 1 })).toEqual([]);
  });
});

describe("maskSecrets", () => {
  const secret: KubeObject = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: "s",
      annotations: { "kubectl.kubernetes.io/last-applied-configuration": '{"data":{"password":"aHVudGVyMg=="}}' },
    },
    data: { password: "aHVudGVyMg==", user: "YWRtaW4=" },
    stringData: { token: "t0ken", pin: "1234" },
  };

  it("shows a changed value as *** (before) → *** (after), in data and stringData, and no value or digest of one", () => {
    const after = {
      ...secret,
      data: { password: "c2VjcmV0", user: "YWRtaW4=" },
      stringData: { token: "t0ken-2", pin: "1234" },
    };
    const changes = fieldChanges(...maskSecrets(secret, after));
    expect(changes).toEqual([
      { path: "data.password", change: "changed", from: "*** (before)", to: "*** (after)" },
      { path: "stringData.token", change: "changed", from: "*** (before)", to: "*** (after)" },
    ]);
    const text = JSON.stringify([maskSecrets(secret, after), changes]);
    for (const plain of ["aHVudGVyMg==", "c2VjcmV0", "YWRtaW4=", "t0ken", "1234"]) expect(text).not.toContain(plain);
    // The same masks whatever the value: nothing in the output depends on it.
    const other = { ...secret, data: { password: "b3RoZXI=", user: "YWRtaW4=" } };
    expect(fieldChanges(...maskSecrets(secret, other))).toEqual(changes.slice(0, 1));
  });

  it("leaves unchanged values unchanged and shows added and removed keys as ***", () => {
    expect(fieldChanges(...maskSecrets(secret, structuredClone(secret)))).toEqual([]);
    const { stringData: _dropped, ...withoutStringData } = secret;
    const after = { ...withoutStringData, data: { user: "YWRtaW4=", apiKey: "a2V5" } };
    expect(fieldChanges(...maskSecrets(secret, after))).toEqual([
      { path: "data.apiKey", change: "added", to: "***" },
      { path: "data.password", change: "removed", from: "***" },
      { path: "stringData", change: "removed", from: { pin: "***", token: "***" } },
    ]);
  });

  it("marks masks so the diff printers can say 'secret value'", () => {
    for (const mask of ["***", "*** (before)", "*** (after)"]) expect(isMasked(mask)).toBe(true);
    expect(isMasked("(masked sha256:0123456789ab)")).toBe(false);
  });

  it("leaves other kinds alone", () => {
    const cm = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" }, data: { a: "b" } };
    const cm2 = { ...cm, data: { a: "c" } };
    expect(maskSecrets(cm, cm2)).toEqual([cm, cm2]);
  });
});
