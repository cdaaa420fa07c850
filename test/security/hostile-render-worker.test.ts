import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { pathToFileURL } from "node:url";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TimeoutError, TooLargeError, type FlotillaError } from "../../src/core/errors.js";
import { MemoryTree } from "../../src/core/file-tree.js";
import { RenderWorkers, builtWorkerScript } from "../../src/controller/render-worker.js";
import { renderFlux } from "../../src/render/index.js";
import { ensureBuiltCli } from "../support/cli-process.js";

const ROOT = pathToFileURL(join(import.meta.dirname, "..", "..") + "/");
let script: URL;
beforeAll(() => {
  // The worker runs compiled JavaScript: the build's, made fresh from src/ when it is older.
  ensureBuiltCli();
  script = builtWorkerScript(ROOT);
}, 300_000);

const cm = (name: string, data = "v") =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  k: ${data}\n---\n`;
function folder(count: number, data = "v"): MemoryTree {
  return new MemoryTree("platform@main", [
    ["apps/all.yaml", Array.from({ length: count }, (_, i) => cm(`c${i}`, data)).join("")],
  ]);
}

async function failure(p: Promise<unknown>): Promise<FlotillaError> {
  return p.then(
    () => {
      throw new Error("expected the render to fail");
    },
    (e: unknown) => e as FlotillaError,
  );
}

describe("renders in worker threads", () => {
  const pools: RenderWorkers[] = [];
  const pool = (options: ConstructorParameters<typeof RenderWorkers>[0] = {}) => {
    const p = new RenderWorkers({ script, ...options });
    pools.push(p);
    return p;
  };
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.close()));
  });

  it("give the render the event loop would give, with errors naming file and field as before", async () => {
    const workers = pool();
    const tree = new MemoryTree("platform@main", [
      ["apps/kustomization.yaml", "resources:\n- cm.yaml\nnamePrefix: x-\n"],
      ["apps/cm.yaml", cm("c")],
      ["bad/kustomization.yaml", "resources:\n- missing.yaml\n"],
    ]);
    expect(await workers.render(tree, "apps", { targetNamespace: "team" })).toEqual(
      renderFlux(tree, "apps", { targetNamespace: "team" }),
    );
    const error = await failure(workers.render(tree, "bad", {}));
    expect(error.describe()).toBe("bad/kustomization.yaml: resources: resource 'missing.yaml' does not exist");
  });

  it("keep the event loop answering while a large render runs", async () => {
    const workers = pool();
    const tree = folder(20_000);
    await workers.render(folder(1), "apps", {}); // the worker is up
    let ticks = 0;
    let longestGap = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      longestGap = Math.max(longestGap, now - last);
      last = now;
      ticks++;
    }, 5);
    const start = performance.now();
    const objects = await workers.render(tree, "apps", {});
    const renderMs = performance.now() - start;
    clearInterval(timer);
    expect(objects).toHaveLength(20_000);
    // The render took long enough to be seen; the loop kept ticking through it (loose: shared cores).
    expect(renderMs).toBeGreaterThan(100);
    expect(ticks).toBeGreaterThan(renderMs / 5 / 4);
    expect(longestGap).toBeLessThan(Math.max(250, renderMs / 2));
  });

  it("stop a render that passes the timeout, failing it with the flag's name, and serve the next render", async () => {
    const workers = pool({ timeoutMs: 1 });
    const error = await failure(workers.render(folder(2000), "apps", {}));
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.message).toBe(
      "rendering 'apps' of platform@main took longer than 0.001 s (--render-timeout); the render was stopped",
    );
    const patient = pool({ timeoutMs: 30_000 });
    expect(await patient.render(folder(2), "apps", {})).toHaveLength(2);
  });

  it("stop a render that passes the worker's heap limit, naming it, and serve the next render", async () => {
    const workers = pool({ memoryMb: 64, limits: { maxObjects: 1_000_000, maxBytes: 1 << 30 } });
    // 400 files of 200 objects with 1 KB values: hundreds of MiB of objects, grown file by file
    // (V8 stops a worker gracefully as its heap nears the limit; one allocation far past the limit
    // is fatal to the process, which the source's file limit keeps out: no file is over 16 MiB).
    const files = Array.from({ length: 400 }, (_, f): [string, string] => [
      `apps/f${f}.yaml`,
      Array.from({ length: 200 }, (_, i) => cm(`c${f}-${i}`, "x".repeat(1000))).join(""),
    ]);
    const error = await failure(workers.render(new MemoryTree("platform@main", files), "apps", {}));
    expect(error).toBeInstanceOf(TooLargeError);
    expect(error.message).toBe(
      "rendering 'apps' of platform@main needed more than 64 MiB (--render-memory); the render was stopped",
    );
    expect(await workers.render(folder(2), "apps", {})).toHaveLength(2);
  });

  it("let the process exit once renders are done: idle workers hold nothing open", () => {
    // The build's modules, in a process of their own: it renders once and returns without close().
    const dist = (p: string) => new URL(`dist/src/${p}`, ROOT).href;
    const script = `
      const { RenderWorkers } = await import(${JSON.stringify(dist("controller/render-worker.js"))});
      const { MemoryTree } = await import(${JSON.stringify(dist("core/file-tree.js"))});
      const tree = new MemoryTree("x", [["a/cm.yaml", "apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: c\\n"]]);
      const objects = await new RenderWorkers().render(tree, "a", {});
      console.log(objects.length);`;
    const file = join(mkdtempSync(join(tmpdir(), "flotilla-exit-")), "render-once.mjs");
    writeFileSync(file, script);
    const result = spawnSync(process.execPath, [file], { encoding: "utf8", timeout: 20_000 });
    expect(result.stderr).toBe("");
    expect(result.stdout.trim()).toBe("1");
    expect(result.signal).toBeNull(); // not killed by the timeout
    expect(result.status).toBe(0);
  });

  it("refuse a render over the object or byte limit, naming the path and the flag", async () => {
    const workers = pool({ limits: { maxObjects: 10, maxBytes: 2000 } });
    expect((await failure(workers.render(folder(11), "apps", {}))).describe()).toBe(
      "apps: the render has 11 objects, more than 10 (--max-render-objects)",
    );
    expect((await failure(workers.render(folder(5, "x".repeat(500)), "apps", {}))).describe()).toBe(
      "apps: the render is larger than 2000 bytes as JSON (--max-render-size)",
    );
  });
});
