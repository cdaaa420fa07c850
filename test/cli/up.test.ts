import { cpSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { run } from "../../src/cli/up.js";
import { capture } from "../support/capture-output.js";
import { TestRepo } from "../support/git-repo.js";

const ROOT = join(import.meta.dirname, "..", "..");

describe("flotilla up, the main job, on the example fleet", () => {
  const repo = TestRepo.create();
  afterAll(() => repo.remove());

  it("provisions both workload clusters and brings all 15 units to Ready, prod from the release tag", async () => {
    for (const dir of ["features", "providers", "tenants"]) cpSync(join(ROOT, dir), join(repo.work, dir), { recursive: true });
    const sha = repo.commit("feat: example fleet (#1)", {});
    repo.git("tag", "v0.1.0");
    const { code, out, err } = await capture(() => run(["--repo", repo.work, "--once", "--timeout", "4m", "--kubeconfig-out", join(repo.root, "kubeconfig")]));
    expect(code, err).toBe(0);
    expect(err).toMatch(/all 15 units ready after/);
    expect(out).toMatch(new RegExp(`non-prod-local-1\\s+tenants-non-prod\\s+non-prod-local-1\\s+True\\s+Applied revision: main@sha1:${sha}`));
    expect(out).toMatch(new RegExp(`prod-local-1\\s+common\\s+prod-local-1\\s+True\\s+Applied revision: v0.1.0@sha1:${sha}`));
    const kubeconfig = readFileSync(join(repo.root, "kubeconfig"), "utf8");
    for (const context of ["mgmt", "non-prod-local-1", "prod-local-1"]) expect(kubeconfig).toContain(`name: ${context}\n`);
  }, 300_000);
});
