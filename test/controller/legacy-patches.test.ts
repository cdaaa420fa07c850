import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClusterClient } from "../../src/core/kube/index.js";
import { startControllerTestbed, type ControllerTestbed } from "../support/controller-testbed.js";
import { until } from "../support/until.js";

// Flux repositories still write kustomize.toolkit.fluxcd.io/v1beta2 (and v1beta1) Kustomizations with
// patchesStrategicMerge and patchesJson6902; the served versions share a schema, so the objects keep them.
describe("a v1beta2 Kustomization's patchesStrategicMerge and patchesJson6902 are applied, as Flux's v1beta2 controller did", () => {
  let bed: ControllerTestbed;
  let mgmt: ClusterClient;

  beforeAll(async () => {
    bed = await startControllerTestbed({
      message: "web",
      files: {
        "apps/web.yaml":
          "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-settings, namespace: default}\ndata: {replicas: '1'}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: web, namespace: default}\n",
      },
    });
    mgmt = bed.mgmt;
    const objects = [
      ...bed.fluxSource("apps", "source.toolkit.fluxcd.io/v1beta2"),
      {
        apiVersion: "kustomize.toolkit.fluxcd.io/v1beta2",
        kind: "Kustomization",
        metadata: { name: "apps", namespace: "flux-system" },
        spec: {
          interval: "10m",
          path: "./apps",
          prune: true,
          sourceRef: { kind: "GitRepository", name: "apps" },
          patchesStrategicMerge: [
            {
              apiVersion: "v1",
              kind: "ConfigMap",
              metadata: { name: "web-settings", namespace: "default" },
              data: { replicas: "3" },
            },
          ],
          patchesJson6902: [
            {
              target: { version: "v1", kind: "ServiceAccount", name: "web" },
              patch: [{ op: "add", path: "/metadata/labels", value: { patched: "yes" } }],
            },
          ],
        },
      },
    ];
    await bed.apply(objects);
    await bed.startController();
  }, 180_000);
  afterAll(async () => {
    await bed?.stop();
  });

  it("patches the ConfigMap (strategic merge) and the ServiceAccount (JSON 6902)", async () => {
    const get = async (path: string) =>
      (
        await mgmt.request<{ data?: Record<string, string>; metadata: { labels?: Record<string, string> } }>(
          "GET",
          path,
          undefined,
          {
            allow: [404],
          },
        )
      ).body;
    const settings = await until(
      "web-settings applied",
      async () => (await get("/api/v1/namespaces/default/configmaps/web-settings")).data,
    );
    expect(settings).toEqual({ replicas: "3" });
    expect((await get("/api/v1/namespaces/default/serviceaccounts/web")).metadata.labels).toMatchObject({
      patched: "yes",
    });
  });
});
