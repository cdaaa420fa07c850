import { renameSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClusterClient } from "../../src/core/kube/index.js";
import type { Controller } from "../../src/controller/controller.js";
import type { GitRepository, Kustomization } from "../../src/core/flux.js";
import type { KubeObject } from "../../src/core/object.js";
import { startControllerTestbed, type ControllerTestbed } from "../support/controller-testbed.js";
import { until } from "../support/until.js";

const files: Record<string, string> = {
  "apps/good/settings.yaml":
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: default}\ndata: {colour: blue}\n",
  "apps/encrypted/creds.yaml": `apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: default}
stringData:
  password: ENC[AES256_GCM,data:c2VjcmV0,iv:aXY=,tag:dGFn,type:str]
sops:
  age:
  - recipient: age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq
    enc: "-----BEGIN AGE ENCRYPTED FILE-----"
  lastmodified: "2026-01-01T00:00:00Z"
  mac: ENC[AES256_GCM,data:bWFj,iv:aXY=,tag:dGFn,type:str]
  version: 3.9.0
`,
  // No controller-manager runs here, so this Deployment never becomes Available.
  "apps/unhealthy/web.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
`,
};

const unit = (name: string, spec: Record<string, unknown>): KubeObject => ({
  apiVersion: "kustomize.toolkit.fluxcd.io/v1",
  kind: "Kustomization",
  metadata: { name, namespace: "flux-system" },
  spec: {
    interval: "10m",
    prune: true,
    path: "./apps/good",
    sourceRef: { kind: "GitRepository", name: "platform" },
    ...spec,
  },
});

const ready = (o: {
  status?: { conditions?: Array<{ type: string; status: string; reason: string; message: string }> };
}) => o.status?.conditions?.find((c) => c.type === "Ready");

describe("bad input gets a clear Ready=False on its own unit, and nothing else is disturbed", () => {
  let bed: ControllerTestbed;
  let mgmt: ClusterClient;
  let controller: Controller;

  const get = async (name: string) =>
    (
      await mgmt.request<Kustomization>(
        "GET",
        `/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/${name}`,
      )
    ).body;
  const failedWith = (name: string, reason: string) =>
    until(`${name}: Ready=False ${reason}`, async () => {
      const k = await get(name);
      return ready(k)?.status === "False" && ready(k)?.reason === reason && ready(k)!.message;
    });

  beforeAll(async () => {
    bed = await startControllerTestbed({ message: "feat: apps", files });
    mgmt = bed.mgmt;
    const objects: KubeObject[] = [
      ...bed.fluxSource("platform"),
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "w9-kubeconfig", namespace: "flux-system" },
        stringData: { kubeconfig: "not under the key Flux reads" },
      },
      unit("good", {}),
      unit("missing-source", { sourceRef: { kind: "GitRepository", name: "nope" } }),
      unit("cycle-a", { dependsOn: [{ name: "cycle-b" }] }),
      unit("cycle-b", { dependsOn: [{ name: "cycle-a" }] }),
      unit("no-value-key", { kubeConfig: { secretRef: { name: "w9-kubeconfig" } } }),
      unit("encrypted", {
        path: "./apps/encrypted",
        decryption: { provider: "sops", secretRef: { name: "sops-age" } },
      }),
      unit("nothing-encrypted", { decryption: { provider: "sops" } }),
      unit("unhealthy", { path: "./apps/unhealthy", wait: true, timeout: "3s" }),
      unit("bad-interval", { interval: "ten minutes" }),
    ];
    await bed.apply(objects);
    controller = await bed.startController();
  }, 180_000);
  afterAll(async () => {
    await bed?.stop();
  });

  it("names the missing source", async () => {
    expect(await failedWith("missing-source", "ArtifactFailed")).toBe(
      "Source 'GitRepository/flux-system/nope' does not exist (spec.sourceRef)",
    );
  });

  it("names a dependency cycle instead of waiting on it forever", async () => {
    expect(await failedWith("cycle-a", "DependencyNotReady")).toBe(
      "dependency cycle: flux-system/cycle-a → flux-system/cycle-b → flux-system/cycle-a (spec.dependsOn)",
    );
    expect(await failedWith("cycle-b", "DependencyNotReady")).toContain(
      "dependency cycle: flux-system/cycle-b → flux-system/cycle-a",
    );
  });

  it("names a kubeconfig Secret without the value key", async () => {
    expect(await failedWith("no-value-key", "ClusterNotReady")).toBe(
      "kubeconfig Secret 'flux-system/w9-kubeconfig' has no key 'value' or 'value.yaml' (spec.kubeConfig.secretRef)",
    );
  });

  it("refuses a SOPS-encrypted Secret it cannot decrypt, naming it, and accepts decryption with nothing encrypted", async () => {
    const message = await failedWith("encrypted", "BuildFailed");
    expect(message).toContain("Secret/default/creds is SOPS-encrypted");
    expect(message).toContain("spec.decryption");
    expect(message).not.toContain("ENC[");
    expect(
      (await mgmt.request("GET", "/api/v1/namespaces/default/secrets/creds", undefined, { allow: [404] })).status,
    ).toBe(404);
    await until("nothing-encrypted Ready", async () => ready(await get("nothing-encrypted"))?.status === "True");
  });

  it("reports a failed health check with the object that is not ready", async () => {
    const message = await failedWith("unhealthy", "HealthCheckFailed");
    expect(message).toContain("Deployment/default/web");
  });

  it("names the field of a malformed interval", async () => {
    const message = await failedWith("bad-interval", "ReconciliationFailed");
    expect(message).toContain("spec.interval");
    expect(message).toContain("ten minutes");
  });

  it("keeps the last artifact and the applied units when the source breaks, and recovers when it is back", async () => {
    await until("good Ready", async () => ready(await get("good"))?.status === "True");
    const bare = bed.repo.bare;
    renameSync(bare, `${bare}.away`);
    try {
      controller.requestPoll("flux-system/platform");
      const broken = await until("the source to fail", async () => {
        const g = (
          await mgmt.request<GitRepository>(
            "GET",
            "/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/platform",
          )
        ).body;
        return ready(g)?.status === "False" && g;
      });
      expect(ready(broken)?.reason).toBe("GitOperationFailed");
      expect(broken.status?.artifact?.revision).toBe(`main@sha1:${bed.firstCommit}`);
      const good = await get("good");
      expect(ready(good)?.status).toBe("True");
      expect(good.status?.lastAppliedRevision).toBe(`main@sha1:${bed.firstCommit}`);
      expect((await mgmt.request("GET", "/api/v1/namespaces/default/configmaps/settings")).status).toBe(200);
    } finally {
      renameSync(`${bare}.away`, bare);
    }
    controller.requestPoll("flux-system/platform");
    await until("the source to recover", async () => {
      const g = (
        await mgmt.request<GitRepository>(
          "GET",
          "/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/platform",
        )
      ).body;
      return ready(g)?.status === "True";
    });
  });
});
