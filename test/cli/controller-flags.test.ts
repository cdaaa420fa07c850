import { describe, expect, it } from "vitest";
import { run } from "../../src/cli/controller.js";

describe("flotilla controller: tenancy flags", () => {
  it("refuses a --default-service-account that is not a ServiceAccount name, before reading any kubeconfig", async () => {
    // A name with ':' would impersonate another user than system:serviceaccount:<namespace>:<name>.
    for (const bad of ["Deployer", "a:b", "system:serviceaccount:kube-system:admin", ".x", "x-"]) {
      await expect(
        run(["--default-service-account", bad, "--kubeconfig", "/nonexistent/flotilla-flags-test"]),
        bad,
      ).rejects.toThrow(`--default-service-account must be a ServiceAccount name, not '${bad}'`);
    }
  });

  it("accepts --default-service-account NAME, --no-cross-namespace-refs and --allow-insecure-http (it gets as far as the missing kubeconfig)", async () => {
    await expect(
      run([
        "--default-service-account",
        "flotilla-unit",
        "--no-cross-namespace-refs",
        "--allow-insecure-http",
        "--kubeconfig",
        "/nonexistent/flotilla-flags-test",
      ]),
    ).rejects.toThrow(/kubeconfig/);
  });
});
