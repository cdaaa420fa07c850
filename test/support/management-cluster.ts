import { join } from "node:path";
import { applyUnit } from "../../src/apply/apply.js";
import { ClusterClient } from "../../src/core/kube/index.js";
import { DiskTree } from "../../src/core/file-tree.js";
import { startHarness, type Harness } from "../../src/provision/local/harness.js";
import { render } from "../../src/render/index.js";
import { PROJECT_ROOT as ROOT } from "./project-root.js";

/** Installs the Flux-API, Cluster API and Flotilla CRDs of `deploy/crds` and waits until they are served. */
export async function installCrds(mgmt: ClusterClient): Promise<void> {
  await applyUnit(mgmt, {
    unit: { name: "crds", namespace: "flux-system" },
    objects: render(new DiskTree(join(ROOT, "deploy")), "crds"),
    prune: false,
    wait: true,
    timeoutMs: 60_000,
  });
}

/** Real control planes (apiserver profile): `mgmt` with the Flux and Cluster API CRDs of `deploy/crds`, and the named workload clusters. */
export async function startManagementCluster(
  workloads: string[] = [],
): Promise<{ harness: Harness; mgmt: ClusterClient }> {
  const harness = await startHarness({ profile: "apiserver", clusters: ["mgmt", ...workloads] });
  const mgmt = ClusterClient.fromKubeconfig(harness.get("mgmt")!.kubeconfig);
  try {
    await installCrds(mgmt);
  } catch (error) {
    mgmt.close();
    await harness.stop();
    throw error;
  }
  return { harness, mgmt };
}
