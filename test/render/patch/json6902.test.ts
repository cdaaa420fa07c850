import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../../src/core/errors.js";
import type { KubeObject } from "../../../src/core/object.js";
import { applyJson6902 } from "../../../src/render/patch/json6902.js";

const base = (): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "c" },
  data: { a: "1", b: "2" },
  list: ["x", "y", "z"],
  nested: { m: { k: "v" } },
});
const context = { file: "patches/ops.yaml", object: "ConfigMap/c" };
const apply = (ops: unknown[]) => applyJson6902(base(), ops, context);

/** The error applyJson6902 throws for `ops`. */
function failure(ops: unknown[]): InvalidInputError {
  try {
    apply(ops);
  } catch (error) {
    if (error instanceof InvalidInputError) return error;
    throw error;
  }
  throw new Error("expected the patch to fail");
}

// Expectations checked against `kubectl kustomize` (kustomize v5.5, evanphx/json-patch v4).
describe("applyJson6902 operations", () => {
  it("add sets a map key, inserts at a list index, appends with '-' and counts a negative index from the end", () => {
    const out = apply([
      { op: "add", path: "/data/c", value: "3" },
      { op: "add", path: "/list/0", value: "first" },
      { op: "add", path: "/list/-", value: "end" },
      { op: "add", path: "/list/-1", value: "after-end" },
      { op: "add", path: "/list/6", value: "at-length" },
    ]);
    expect(out.data).toStrictEqual({ a: "1", b: "2", c: "3" });
    expect(out.list).toStrictEqual(["first", "x", "y", "z", "end", "after-end", "at-length"]);
  });

  it("add without a value adds null, and adding an existing key replaces it", () => {
    expect(
      apply([
        { op: "add", path: "/data/q" },
        { op: "add", path: "/data/a", value: "9" },
      ]).data,
    ).toStrictEqual({ a: "9", b: "2", q: null });
  });

  it("remove deletes a key or an element, a negative index counting from the end", () => {
    const out = apply([
      { op: "remove", path: "/data/a" },
      { op: "remove", path: "/list/-1" },
      { op: "remove", path: "/list/0" },
    ]);
    expect(out.data).toStrictEqual({ b: "2" });
    expect(out.list).toStrictEqual(["y"]);
  });

  it("replace changes a value and, as kustomize does, sets a missing map key", () => {
    const out = apply([
      { op: "replace", path: "/list/1", value: "Y" },
      { op: "replace", path: "/data/zz", value: "new" },
    ]);
    expect(out.list).toStrictEqual(["x", "Y", "z"]);
    expect(out.data).toStrictEqual({ a: "1", b: "2", zz: "new" });
  });

  it("move takes the value away from 'from'; copy leaves it and copies a deep value", () => {
    const out = apply([
      { op: "move", from: "/data/a", path: "/nested/a" },
      { op: "copy", from: "/nested/m", path: "/copied" },
      { op: "move", from: "/list/0", path: "/list/-" },
    ]);
    expect(out.data).toStrictEqual({ b: "2" });
    expect(out.nested).toStrictEqual({ a: "1", m: { k: "v" } });
    expect(out.copied).toStrictEqual({ k: "v" });
    expect(out.copied).not.toBe(out.nested);
    expect(out.list).toStrictEqual(["y", "z", "x"]);
  });

  it("copy from a missing map key copies null, as kustomize does", () => {
    expect(apply([{ op: "copy", from: "/data/none", path: "/data/q" }]).data).toStrictEqual({
      a: "1",
      b: "2",
      q: null,
    });
  });

  it("test passes on an equal value (deep, key order free) and on null for a missing key", () => {
    expect(() =>
      apply([
        { op: "test", path: "/nested", value: { m: { k: "v" } } },
        { op: "test", path: "/list", value: ["x", "y", "z"] },
        { op: "test", path: "/data/none", value: null },
      ]),
    ).not.toThrow();
  });

  it("unescapes ~1 to '/' and ~0 to '~' in pointer tokens", () => {
    const out = apply([
      { op: "add", path: "/data/example.com~1x", value: "1" },
      { op: "add", path: "/data/t~0y", value: "2" },
    ]);
    expect(out.data).toStrictEqual({ a: "1", b: "2", "example.com/x": "1", "t~y": "2" });
  });

  it("leaves the target and the operations unchanged, and never shares a value between results", () => {
    const target = base();
    const value = { deep: ["v"] };
    const ops = [{ op: "add", path: "/extra", value }];
    const first = applyJson6902(target, ops, context);
    const second = applyJson6902(target, ops, context);
    expect(target).toStrictEqual(base());
    expect(ops[0]!.value).toBe(value);
    expect(first.extra).toStrictEqual(value);
    expect(first.extra).not.toBe(value);
    expect(first.extra).not.toBe(second.extra);
  });
});

describe("applyJson6902 errors name the operation, its path, the file and the object", () => {
  const cases: Array<[string, unknown[], RegExp]> = [
    [
      "remove of a missing key",
      [{ op: "remove", path: "/data/zz" }],
      /operation 0 \(remove \/data\/zz\): there is no 'zz'/,
    ],
    [
      "add under a missing parent",
      [
        { op: "add", path: "/data/a", value: "1" },
        { op: "add", path: "/missing/x", value: 1 },
      ],
      /operation 1 \(add \/missing\/x\): the object has no map or list at '\/missing'/,
    ],
    [
      "add under a scalar",
      [{ op: "add", path: "/nested/m/k/deeper", value: 1 }],
      /operation 0 .* no map or list at '\/nested\/m\/k'/,
    ],
    [
      "an index past the end",
      [{ op: "add", path: "/list/4", value: "w" }],
      /operation 0 \(add \/list\/4\): index 4 is out of range/,
    ],
    ["remove past the end", [{ op: "remove", path: "/list/3" }], /index 3 is out of range/],
    ["replace of '-'", [{ op: "replace", path: "/list/-", value: "w" }], /'-' is not a list index/],
    ["a token that is not an index", [{ op: "remove", path: "/list/x" }], /'x' is not a list index/],
    ["a failed test", [{ op: "test", path: "/data/a", value: "2" }], /operation 0 \(test \/data\/a\): test failed/],
    ["a test of a missing key against a value", [{ op: "test", path: "/data/zz", value: "1" }], /test failed/],
    ["a test without a value", [{ op: "test", path: "/data/a" }], /a test needs a 'value'/],
    ["an unknown op", [{ op: "jump", path: "/data" }], /operation 0 \(jump \/data\): unknown op 'jump'/],
    ["an op without a path", [{ op: "add", value: 1 }], /operation 0 \(add\) has no 'path'/],
    ["an operation without op", [{ path: "/data" }], /operation 0 has no 'op'/],
    ["an operation that is not a map", ["remove /data"], /operation 0 is not a map/],
    ["move without from", [{ op: "move", path: "/data/x" }], /needs a 'from' path/],
    [
      "a move into its own child",
      [{ op: "move", from: "/nested", path: "/nested/m/inner" }],
      /no map or list at '\/nested'/,
    ],
    ["a pointer without '/'", [{ op: "replace", path: "", value: {} }], /is not a JSON pointer to a field/],
  ];
  for (const [what, ops, message] of cases) {
    it(what, () => {
      const error = failure(ops);
      expect(error.message).toMatch(message);
      expect(error.location.file).toBe("patches/ops.yaml");
      expect(error.location.object).toBe("ConfigMap/c");
      expect(error.location.field).toMatch(/^\[\d+\]$/);
    });
  }
});
