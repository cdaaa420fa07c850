import { cpSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { run } from "../../src/cli/plan.js";
import { TestRepo } from "../support/git-repo.js";

const REFERENCE = join(import.meta.dirname, "..", "plan", "fixtures", "reference");

async function capture(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const o = vi
    .spyOn(process.stdout, "write")
    .mockImplementation((c: string | Uint8Array) => ((out += String(c)), true));
  const e = vi
    .spyOn(process.stderr, "write")
    .mockImplementation((c: string | Uint8Array) => ((err += String(c)), true));
  try {
    return { code: await run(args), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

describe("flotilla plan on a git repository in convention mode", () => {
  let repo: TestRepo;
  beforeAll(() => {
    repo = TestRepo.create();
    cpSync(REFERENCE, repo.work, { recursive: true });
    for (const f of [
      "providers/aws/v1/mgmt/namespaced/flux-system/gitrepositories.yaml",
      "providers/aws/v1/mgmt/namespaced/flux-system/kustomizations.yaml",
    ])
      unlinkSync(join(repo.work, f));
    for (const c of ["non-prod-eu-west-1", "prod-eu-west-1"])
      unlinkSync(join(repo.work, `providers/aws/v1/mgmt/namespaced/${c}/kustomizations.yaml`));
    writeFileSync(
      join(repo.work, "flotilla.yaml"),
      "management:\n  features:\n  - name: access-control\n    source: release\n",
    );
    repo.commit("feat: platform (#1)", {});
    repo.git("tag", "v0.0.1");
    repo.commit("feat(tenants): add team b (#2)", {
      "tenants/aws/common/team-b/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-b\n",
    });
  });
  afterAll(() => repo.remove());

  it("prints the 16 units, prod following the highest release tag", async () => {
    const { code, out } = await capture(["--repo", repo.work, "--ref", "main"]);
    expect(code).toBe(0);
    const lines = out.trim().split("\n");
    expect(lines[0]).toMatch(/^NAMESPACE\s+NAME\s+SOURCE\s+PATH\s+DEPENDS-ON$/);
    expect(lines).toHaveLength(17);
    expect(out).toMatch(
      /prod-eu-west-1\s+common\s+release\s+\.\/providers\/aws\/v1\/clusters\/prod\/common\s+feature-helloworld-operator/,
    );
  });

  it("prints Flux objects with --json, the release source pinned to the tag", async () => {
    const { out } = await capture(["--repo", repo.work, "--ref", "main", "--json"]);
    const objects = JSON.parse(out) as Array<{
      kind: string;
      metadata: { name: string };
      spec: { ref?: { tag?: string } };
    }>;
    expect(objects.find((o) => o.kind === "GitRepository" && o.metadata.name === "release")!.spec.ref).toEqual({
      tag: "v0.0.1",
    });
    expect(objects.filter((o) => o.kind === "Kustomization")).toHaveLength(16);
  });

  it("is byte-for-byte stable between runs", async () => {
    expect((await capture(["--repo", repo.work, "--ref", "main"])).out).toBe(
      (await capture(["--repo", repo.work, "--ref", "main"])).out,
    );
  });

  it("names an unknown ref", async () => {
    await expect(run(["--repo", repo.work, "--ref", "nope"])).rejects.toThrow("ref 'nope' does not exist");
  });
});
