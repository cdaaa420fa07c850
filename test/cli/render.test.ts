import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { run } from "../../src/cli/render.js";

const dir = mkdtempSync(join(tmpdir(), "flotilla-cli-render-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
mkdirSync(join(dir, "app"));
writeFileSync(join(dir, "app", "kustomization.yaml"), "resources:\n- cm.yaml\nnamePrefix: x-\n");
writeFileSync(
  join(dir, "app", "cm.yaml"),
  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  greeting: ${greeting:=hello}\n",
);

async function capture(args: string[]): Promise<{ code: number; out: string }> {
  let out = "";
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    return { code: await run(args), out };
  } finally {
    spy.mockRestore();
  }
}

describe("flotilla render", () => {
  it("prints the build as multi-document YAML", async () => {
    const { code, out } = await capture([join(dir, "app"), "--root", dir]);
    expect(code).toBe(0);
    expect(out).toBe(
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x-c\ndata:\n  greeting: ${greeting:=hello}\n",
    );
  });

  it("substitutes variables given with --substitute", async () => {
    const { out } = await capture([join(dir, "app"), "--root", dir, "--substitute", "greeting=hi"]);
    expect(out).toContain("greeting: hi\n");
  });

  it("prints JSON with --json", async () => {
    const { out } = await capture([join(dir, "app"), "--root", dir, "--json"]);
    expect(JSON.parse(out)).toEqual([
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x-c" }, data: { greeting: "${greeting:=hello}" } },
    ]);
  });

  it("refuses a PATH outside --root", async () => {
    await expect(run([join(dir, "app"), "--root", join(dir, "app", "nested")])).rejects.toThrow(/outside --root/);
  });
});
