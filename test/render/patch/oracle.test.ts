import { execFileSync, spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../../src/core/object.js";
import { parseYamlDocuments } from "../../../src/core/yaml.js";
import { byId, caseNames, CASES_DIR, loadCase } from "./cases.js";

// Re-runs the oracle on every case so an expected.yaml that no longer matches kubectl is caught
// (tools/refresh-expected.sh rewrites them). Skipped where kubectl is not installed.
function kubectlAvailable(): boolean {
  try {
    execFileSync("kubectl", ["version", "--client"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!kubectlAvailable())("expected outputs are still what kubectl kustomize prints", () => {
  for (const name of caseNames()) {
    it(name, () => {
      const c = loadCase(name);
      const run = spawnSync("kubectl", ["kustomize", join(CASES_DIR, name)], { encoding: "utf8" });
      if (c.expectedError !== undefined) {
        expect(run.status, run.stdout).not.toBe(0);
        return;
      }
      expect(run.status, run.stderr).toBe(0);
      const printed = parseYamlDocuments(run.stdout, `${name} (kubectl)`)
        .map((d) => d.value)
        .filter((v) => v !== null) as KubeObject[];
      expect(byId(printed)).toStrictEqual(byId(c.expected!));
    });
  }
});
