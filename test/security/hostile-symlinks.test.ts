import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { run as plan } from "../../src/cli/plan.js";
import type { FlotillaError } from "../../src/core/errors.js";
import { DiskTree, MemoryTree } from "../../src/core/file-tree.js";
import { render } from "../../src/render/index.js";

const root = mkdtempSync(join(tmpdir(), "flotilla-hostile-symlinks-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: one\n";

/** A folder on disk with `files` and `links` (path → target), as a checkout would hold them. */
function disk(name: string, files: Record<string, string>, links: Record<string, string>): DiskTree {
  const dir = join(root, name);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, ".."), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  for (const [path, target] of Object.entries(links)) {
    mkdirSync(join(dir, path, ".."), { recursive: true });
    symlinkSync(target, join(dir, path));
  }
  return new DiskTree(dir);
}

function failure(run: () => unknown): { message: string; ms: number } {
  const start = process.hrtime.bigint();
  try {
    run();
  } catch (error) {
    return { message: (error as FlotillaError).describe(), ms: Number(process.hrtime.bigint() - start) / 1e6 };
  }
  throw new Error("expected an error");
}

describe("symlink loops", () => {
  it("a plain folder holding 'self -> .' fails at once, naming the link, on disk", () => {
    const tree = disk("plain", { "apps/cm.yaml": CM }, { "apps/self": "." });
    const { message, ms } = failure(() => render(tree, "apps"));
    expect(message).toBe("apps/self: 'apps/self' is a symlink loop: it leads back to 'apps'");
    expect(ms).toBeLessThan(2000);
  });

  it("two loops in one folder (a walk that doubles at each level) fail as fast", () => {
    const tree = disk("plain-two", { "apps/cm.yaml": CM }, { "apps/a": ".", "apps/b": "..", "apps/c": "../apps" });
    expect(failure(() => render(tree, "apps")).message).toMatch(
      /^apps\/a: 'apps\/a' is a symlink loop: it leads back to 'apps'/,
    );
  });

  it("a loop through the parent, from a tree read from git, fails naming the link", () => {
    const tree = new MemoryTree("repo@main", [["apps/x/cm.yaml", CM]], [["apps/x/up", ".."]]);
    expect(failure(() => render(tree, "apps")).message).toBe(
      "apps/x/up: 'apps/x/up' is a symlink loop: it leads back to 'apps'",
    );
  });

  it("a folder reached twice through links is refused instead of read twice", () => {
    const tree = new MemoryTree("repo@main", [["apps/real/cm.yaml", CM]], [["apps/alias", "real"]]);
    expect(failure(() => render(tree, "apps")).message).toBe(
      "apps/real: 'apps/real' is the same folder as 'apps/alias' (through a symlink), which was already read",
    );
  });

  it("a kustomization listing a link to its own folder is a kustomization cycle, as kustomize's loader sees it", () => {
    const tree = disk(
      "kust",
      { "apps/kustomization.yaml": "resources:\n- cm.yaml\n- self\n", "apps/cm.yaml": CM },
      { "apps/self": "." },
    );
    expect(failure(() => render(tree, "apps")).message).toBe(
      "apps/self/kustomization.yaml: resources: kustomization cycle: apps -> apps/self",
    );
  });

  it("folder links without a loop keep working", () => {
    const tree = disk("fine", { "base/cm.yaml": CM }, { "apps/base": "../base" });
    expect(render(tree, "apps").map((o) => o.metadata.name)).toEqual(["one"]);
  });

  it("flotilla plan on a work tree whose root holds 'self -> .' says there is no fleet, at once", async () => {
    disk("plan", { "apps/cm.yaml": CM }, { self: "." });
    let err = "";
    const spy = vi
      .spyOn(process.stderr, "write")
      .mockImplementation((c: string | Uint8Array) => ((err += String(c)), true));
    const start = Date.now();
    let code: number;
    try {
      code = await plan(["--repo", join(root, "plan")]).catch((e: FlotillaError) => ((err += e.describe()), 2));
    } finally {
      spy.mockRestore();
    }
    expect(code).toBe(2);
    expect(err).toMatch(/no fleet to plan/);
    expect(Date.now() - start).toBeLessThan(5000);
  });
});
