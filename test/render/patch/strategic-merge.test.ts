import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../../src/core/errors.js";
import type { KubeObject } from "../../../src/core/object.js";
import { builtinSchema, type MergeSchema } from "../../../src/render/patch/schema.js";
import { strategicMerge } from "../../../src/render/patch/strategic-merge.js";

// Behaviour against kubectl kustomize is covered by the folders under cases/; these tests pin the
// function's own contract: results, errors, inputs left alone, and schemas other than the built-in.
const deployment = (): KubeObject => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "web" },
  spec: {
    replicas: 1,
    template: { spec: { containers: [{ name: "app", image: "app:1", env: [{ name: "A", value: "1" }] }] } },
  },
});

function thrown(fn: () => unknown): InvalidInputError {
  try {
    fn();
  } catch (error) {
    if (error instanceof InvalidInputError) return error;
    throw error;
  }
  throw new Error("expected an InvalidInputError");
}

describe("strategicMerge", () => {
  it("returns null when the patch deletes the whole object", () => {
    expect(strategicMerge(deployment(), { $patch: "delete" }, builtinSchema)).toBeNull();
  });

  it("returns the patch itself (without the directive) for a top-level $patch: replace", () => {
    const patch = {
      $patch: "replace",
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web" },
      spec: { replicas: 5 },
    };
    expect(strategicMerge(deployment(), patch, builtinSchema)).toStrictEqual({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web" },
      spec: { replicas: 5 },
    });
  });

  it("never changes the target or the patch, and shares no value with either", () => {
    const target = deployment();
    const addedEnv = { name: "B", value: "2" };
    const patch = {
      spec: {
        template: {
          spec: {
            containers: [{ name: "app", env: [addedEnv, { name: "A", $patch: "delete" }] }, { $patch: "replace" }],
          },
        },
      },
    };
    const before = structuredClone(patch);
    const merged = strategicMerge(target, patch, builtinSchema)!;
    expect(target).toStrictEqual(deployment());
    expect(patch).toStrictEqual(before);
    const env = (merged.spec as { template: { spec: { containers: Array<{ env: unknown[] }> } } }).template.spec
      .containers[0]!.env;
    expect(env).toStrictEqual([{ name: "B", value: "2" }]);
    expect(env[0]).not.toBe(addedEnv);
  });

  it("names the file, object and field when the patch gives a map where the object has a scalar", () => {
    const context = { file: "patches/replicas.yaml", object: "Deployment/web" };
    const error = thrown(() =>
      strategicMerge(deployment(), { spec: { replicas: { value: 3 } } }, builtinSchema, context),
    );
    expect(error.location).toStrictEqual({ ...context, field: "spec.replicas" });
    expect(error.message).toMatch(/a map where the object has a scalar/);
  });

  it("names the list that holds a scalar where merging needs maps", () => {
    const target = deployment();
    (target.spec as { template: { spec: { containers: unknown[] } } }).template.spec.containers.unshift(
      "just-a-string",
    );
    const error = thrown(() =>
      strategicMerge(
        target,
        { spec: { template: { spec: { containers: [{ name: "app", image: "b" }] } } } },
        builtinSchema,
        {
          object: "Deployment/web",
        },
      ),
    );
    expect(error.location).toStrictEqual({ object: "Deployment/web", field: "spec.template.spec.containers" });
  });

  it("names the field of an unknown $patch directive", () => {
    const error = thrown(() =>
      strategicMerge(deployment(), { spec: { template: { $patch: "sideways" } } }, builtinSchema),
    );
    expect(error.message).toBe("unknown patch strategy 'sideways'");
    expect(error.location.field).toBe("spec.template.$patch");
  });

  it("asks the schema with the kind and the field path, list indexes left out", () => {
    const asked: string[] = [];
    const schema: MergeSchema = {
      listMergeKey(gvk, path) {
        asked.push(`${gvk.group}/${gvk.version}/${gvk.kind} ${path.join(".")}`);
        return path[path.length - 1] === "items" ? { strategy: "merge", key: "id" } : undefined;
      },
    };
    const target = {
      apiVersion: "example.com/v1",
      kind: "Thing",
      metadata: { name: "t" },
      spec: { items: [{ id: "a", tags: ["x"] }, { id: "b" }] },
    };
    const merged = strategicMerge(target, { spec: { items: [{ id: "a", tags: ["y"] }, { id: "c" }] } }, schema);
    expect(merged?.spec).toStrictEqual({ items: [{ id: "a", tags: ["y"] }, { id: "c" }, { id: "b" }] });
    expect(asked).toContain("example.com/v1/Thing spec.items");
    expect(asked).toContain("example.com/v1/Thing spec.items.tags");
  });

  it("uses an embedded object's own kind below an object the schema does not know", () => {
    const target = {
      apiVersion: "example.com/v1",
      kind: "Wrapper",
      metadata: { name: "w" },
      spec: {
        template: {
          apiVersion: "v1",
          kind: "Pod",
          spec: {
            containers: [
              { name: "a", image: "a:1" },
              { name: "b", image: "b:1" },
            ],
          },
        },
      },
    };
    const merged = strategicMerge(
      target,
      { spec: { template: { spec: { containers: [{ name: "b", image: "b:2" }] } } } },
      builtinSchema,
    );
    expect((merged?.spec as { template: { spec: unknown } }).template.spec).toStrictEqual({
      containers: [
        { name: "b", image: "b:2" },
        { name: "a", image: "a:1" },
      ],
    });
  });

  it("merges env lists in time linear in their length: 4× the list costs well under 16× (quadratic)", () => {
    const merge = (length: number) => {
      const env = Array.from({ length }, (_, i) => ({ name: `V${i}`, value: String(i) }));
      const target = deployment();
      (
        target.spec as { template: { spec: { containers: Array<{ env: unknown[] }> } } }
      ).template.spec.containers[0]!.env = env;
      const patch = {
        spec: {
          template: {
            spec: { containers: [{ name: "app", env: env.slice(0, length / 2).map((e) => ({ ...e, value: "x" })) }] },
          },
        },
      };
      return () => strategicMerge(target, patch, builtinSchema)!;
    };
    // The fastest of several runs after a warm-up, so that a busy machine slows no size more than another.
    const cost = (length: number): number => {
      const run = merge(length);
      run();
      let best = Number.POSITIVE_INFINITY;
      for (let i = 0; i < 7; i++) {
        const started = performance.now();
        run();
        best = Math.min(best, performance.now() - started);
      }
      return best;
    };
    const merged = merge(200)();
    const mergedEnv = (merged.spec as { template: { spec: { containers: Array<{ env: Array<{ value: string }> }> } } })
      .template.spec.containers[0]!.env;
    expect(mergedEnv).toHaveLength(200);
    expect(mergedEnv.filter((e) => e.value === "x")).toHaveLength(100);
    const [small, , large] = [2_000, 4_000, 8_000].map(cost);
    // Linear is 4; a quadratic merge (every patch entry scanning the list) is 16.
    expect(large! / small!, `${small!.toFixed(2)} ms for 2,000, ${large!.toFixed(2)} ms for 8,000`).toBeLessThan(9);
  });
});

describe("the indexed merge of single-key lists", () => {
  // A second merge key that no element sets makes kustomize's algorithm (and this port) take the
  // general, scanning path with exactly single-key semantics; the indexed path must agree with it.
  const schemaWith = (keys: string[]): MergeSchema => ({
    listMergeKey: (_gvk, path) =>
      path[path.length - 1] === "items" ? { strategy: "merge", key: keys[0]!, keys } : undefined,
  });
  const indexed = schemaWith(["name"]);
  const scanning = schemaWith(["name", "never-set"]);

  function random(seed: number): () => number {
    let state = seed;
    return () => {
      state = (state * 1103515245 + 12345) % 2147483648;
      return state / 2147483648;
    };
  }

  it("gives the same result as the general path on 500 random lists with duplicates, deletes and replaces", () => {
    const next = random(42);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
    const element = (directives: boolean): Record<string, unknown> => {
      const e: Record<string, unknown> = { name: pick(["a", "b", "c", "d", "e"]) };
      if (next() < 0.6) e.v = Math.floor(next() * 5);
      if (next() < 0.3) e.nested = { x: pick([1, 2, null]) };
      if (directives && next() < 0.15) e.$patch = pick(["delete", "replace", "merge"]);
      return e;
    };
    const list = (directives: boolean): Array<Record<string, unknown>> =>
      Array.from({ length: Math.floor(next() * 6) }, () => element(directives));
    for (let i = 0; i < 500; i++) {
      const target = { apiVersion: "example.com/v1", kind: "T", metadata: { name: "t" }, spec: { items: list(false) } };
      const patch = next() < 0.2 ? { other: 1 } : { spec: { items: list(true) } };
      expect(strategicMerge(target, patch, indexed), JSON.stringify({ target, patch })).toStrictEqual(
        strategicMerge(target, patch, scanning),
      );
    }
  });
});
