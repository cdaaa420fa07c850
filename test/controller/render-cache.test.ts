import { describe, expect, it } from "vitest";
import { RenderCache, digest } from "../../src/controller/render-cache.js";

describe("RenderCache", () => {
  it("renders a shared key once, even while the first render runs", async () => {
    const cache = new RenderCache<string[]>();
    let renders = 0;
    const key = RenderCache.key("main@sha1:abc", "features/ingress", { namePrefix: "" });
    const compute = async () => {
      renders++;
      await new Promise((r) => setTimeout(r, 5));
      return ["x"];
    };
    const results = await Promise.all(Array.from({ length: 100 }, () => cache.get(key, "main@sha1:abc", compute)));
    expect(renders).toBe(1);
    expect(results.every((r) => r[0] === "x")).toBe(true);
    expect(cache.stats()).toMatchObject({ hits: 99, misses: 1 });
  });

  it("does not keep a failed render", async () => {
    const cache = new RenderCache<number>();
    await expect(cache.get("k", "r", () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    await new Promise((r) => setImmediate(r));
    await expect(cache.get("k", "r", () => 1)).resolves.toBe(1);
  });

  it("drops renders of revisions no longer tracked", async () => {
    const cache = new RenderCache<number>();
    await cache.get("a", "rev1", () => 1);
    await cache.get("b", "rev2", () => 2);
    cache.retainRevisions(new Set(["rev2"]));
    expect(cache.stats().entries).toBe(1);
  });

  it("keys do not depend on option key order", () => {
    expect(digest({ a: 1, b: { c: [1, 2] } })).toBe(digest({ b: { c: [1, 2] }, a: 1 }));
    expect(digest({ a: 1 })).not.toBe(digest({ a: 2 }));
  });
});
