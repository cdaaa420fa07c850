import { cpSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { run } from "../../src/cli/up.js";
import { capture } from "../support/capture-output.js";
import { TestRepo } from "../support/git-repo.js";

const ROOT = join(import.meta.dirname, "..", "..");

/** The example fleet with the README's rollouts section: prod-local-1 (environment: prod) is the canary; no cluster is in `rest` yet. */
const FLOTILLA_YAML = `rollouts:
  prod:
    waves:
      - name: canary
        clusters: {matchLabels: {environment: prod}}
        soak: 1s
      - name: rest
        maxConcurrent: 25%
    onFailure: halt
`;

describe("flotilla up on the example fleet with rollouts", () => {
  const repo = TestRepo.create();
  afterAll(() => repo.remove());

  it("shows the waves of prod's Rollout under the units, through to Succeeded", async () => {
    for (const dir of ["features", "providers", "tenants"])
      cpSync(join(ROOT, dir), join(repo.work, dir), { recursive: true });
    repo.commit("feat: example fleet with waves (#1)", { "flotilla.yaml": FLOTILLA_YAML });
    repo.git("tag", "v0.1.0");
    const { code, out, err } = await capture(() =>
      run(["--repo", repo.work, "--once", "--timeout", "4m", "--kubeconfig-out", join(repo.root, "kubeconfig")]),
    );
    expect(code, err).toBe(0);
    expect(out).toMatch(/ROLLOUT\s+WAVE\s+UPDATED\s+PHASE\s+REASON/);
    expect(out).toMatch(/flux-system\/prod\s+canary\s+1\/1\s+Succeeded/);
    expect(out).toMatch(/flux-system\/prod\s+rest\s+0\/0\s+Succeeded/);
  }, 300_000);
});
