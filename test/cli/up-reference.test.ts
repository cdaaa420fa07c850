import { cpSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { run } from "../../src/cli/up.js";
import { capture } from "../support/capture-output.js";
import { TestRepo } from "../support/git-repo.js";

const REFERENCE = join(import.meta.dirname, "..", "plan", "fixtures", "reference");

describe("flotilla up on the reference repository of the article (Flux objects, AWS clusters as local stand-ins)", () => {
  const repo = TestRepo.create();
  afterAll(() => repo.remove());

  it("reaches the 16 Kustomizations of DESIGN.md, all Ready, non-prod at main and prod at v0.0.3", async () => {
    cpSync(REFERENCE, repo.work, { recursive: true });
    const sha = repo.commit("feat: the reference fleet (#1)", {});
    for (const tag of ["v0.0.1", "v0.0.2", "v0.0.3"]) repo.git("tag", tag);
    const { code, out, err } = await capture(() =>
      run(["--repo", repo.work, "--once", "--timeout", "4m", "--kubeconfig-out", join(repo.root, "kubeconfig")]),
    );
    expect(code, err).toBe(0);
    expect(err).toMatch(/all 16 units ready after/);
    expect(err).toContain("Flux-compatible mode");
    expect(err).toMatch(/GitRepository flux-system\/(main|release): .* is read from http:\/\/127\.0\.0\.1/);
    const finalTable = out.slice(out.lastIndexOf("NAMESPACE"));
    for (const unit of [
      "feature-access-control",
      "feature-helloworld-operator",
      "feature-ingress-nginx",
      "common",
      "non-prod-eu-west-1",
      "tenants-common",
      "tenants-non-prod",
    ]) {
      expect(finalTable).toMatch(
        new RegExp(`non-prod-eu-west-1\\s+${unit}\\s+non-prod-eu-west-1\\s+True\\s+Applied revision: main@sha1:${sha}`),
      );
    }
    for (const unit of [
      "feature-access-control",
      "feature-helloworld-operator",
      "feature-ingress-nginx",
      "common",
      "prod-eu-west-1",
      "tenants-common",
      "tenants-prod",
    ]) {
      expect(finalTable).toMatch(
        new RegExp(`prod-eu-west-1\\s+${unit}\\s+prod-eu-west-1\\s+True\\s+Applied revision: v0.0.3@sha1:${sha}`),
      );
    }
    expect(finalTable).toMatch(new RegExp(`flux-system\\s+mgmt\\s+mgmt\\s+True\\s+Applied revision: main@sha1:${sha}`));
    // The custom resource waited for its CRD's unit instead of failing first.
    expect(out).not.toMatch(/common\s+\S+\s+False\s+.*(no matches for kind|could not find the requested resource)/);
  }, 300_000);
});
