import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterClient } from "../../src/core/kube/index.js";
import type { Controller } from "../../src/controller/controller.js";
import type { Condition, GitRepository, Kustomization } from "../../src/core/flux.js";
import type { KubeObject } from "../../src/core/object.js";
import { cacheKey } from "../../src/source/git-source.js";
import { startControllerTestbed, type ControllerTestbed } from "../support/controller-testbed.js";
import { startGitHttpServer, type GitHttpServer } from "../support/git-http-server.js";
import { until } from "../support/until.js";

/**
 * Issue 17, items 1–3, on real apiservers with RBAC (the harness runs kube-apiserver with
 * --authorization-mode=RBAC): tenants A and B each own a namespace on the management cluster, a
 * service account `deployer` with rights in that namespace only, and a cluster of their own (a
 * kubeconfig Secret in their namespace). The controller runs Flux's lockdown:
 * --default-service-account=deployer and --no-cross-namespace-refs. Every attack of the issue is
 * made by tenant A's units and refused with a condition that names why, and nothing of B's changes.
 */

const cm = (namespace: string, name: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${name}, namespace: ${namespace}}\ndata: {owner: tenant-a}\n`;

const files: Record<string, string> = {
  "tenant-a/app/cm.yaml": cm("tenant-a", "app"),
  "tenant-a/viewer/cm.yaml": cm("tenant-a", "viewer-cm"),
  "tenant-a/prune/cm.yaml": cm("tenant-a", "prune-cm"),
  "tenant-a/health/cm.yaml": cm("tenant-a", "health-cm"),
  "tenant-a/health-later/cm.yaml": cm("tenant-a", "health-later-cm"),
  "tenant-b/app/cm.yaml":
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b-app, namespace: tenant-b}\ndata: {owner: tenant-b}\n",
  // A Kustomization for namespace B that deploys to B's cluster with B's kubeconfig Secret.
  "attacks/kustomization-into-b/ks.yaml": `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: hijack, namespace: tenant-b}
spec:
  interval: 1m
  prune: true
  path: ./attacks/payload
  sourceRef: {kind: GitRepository, name: platform}
  kubeConfig: {secretRef: {name: cluster-b-kubeconfig}}
`,
  "attacks/payload/cm.yaml": cm("default", "pwned"),
  "attacks/namespace-b/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: tenant-b}\n",
  "attacks/outside/cm.yaml": cm("tenant-b", "planted"),
  "attacks/new-namespace/cm.yaml": cm("tenant-a-new", "settings"),
};

const LABEL_NAME = "kustomize.toolkit.fluxcd.io/name";
const LABEL_NAMESPACE = "kustomize.toolkit.fluxcd.io/namespace";
const ready = (o: { status?: { conditions?: Condition[] } }) => o.status?.conditions?.find((c) => c.type === "Ready");
const b64 = (s: string) => Buffer.from(s).toString("base64");

/** A tenant's namespace, service accounts and RBAC: `deployer` may do anything in the namespace and nothing outside it; `viewer` may only read it. */
function tenant(ns: string): KubeObject[] {
  return [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "deployer", namespace: ns } },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "viewer", namespace: ns } },
    ...namespacedRights(ns),
  ];
}

function namespacedRights(ns: string): KubeObject[] {
  return [
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "tenant-admin", namespace: ns },
      rules: [{ apiGroups: ["*"], resources: ["*"], verbs: ["*"] }],
    } as KubeObject,
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "deployer", namespace: ns },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "tenant-admin" },
      subjects: [{ kind: "ServiceAccount", name: "deployer", namespace: ns }],
    } as KubeObject,
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "tenant-view", namespace: ns },
      rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "watch"] }],
    } as KubeObject,
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "viewer", namespace: ns },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "tenant-view" },
      subjects: [{ kind: "ServiceAccount", name: "viewer", namespace: ns }],
    } as KubeObject,
  ];
}

const gitRepository = (
  namespace: string,
  name: string,
  url: string,
  ref: Record<string, string> = { branch: "main" },
  secretRef?: string,
): KubeObject => ({
  apiVersion: "source.toolkit.fluxcd.io/v1",
  kind: "GitRepository",
  metadata: { name, namespace },
  spec: { url, ref, interval: "10m", ...(secretRef ? { secretRef: { name: secretRef } } : {}) },
});
const B_PASSWORD = "b-private-pw-7f3a";

const unit = (namespace: string, name: string, spec: Record<string, unknown>): KubeObject => ({
  apiVersion: "kustomize.toolkit.fluxcd.io/v1",
  kind: "Kustomization",
  metadata: { name, namespace },
  spec: {
    interval: "10m",
    retryInterval: "10m",
    prune: true,
    sourceRef: { kind: "GitRepository", name: "platform" },
    ...spec,
  },
});

describe("tenancy: Flux's multi-tenancy lockdown on real apiservers with RBAC", () => {
  let bed: ControllerTestbed;
  let mgmt: ClusterClient;
  let clusterA: ClusterClient;
  let clusterB: ClusterClient;
  let controller: Controller;
  const cacheDir = mkdtempSync(join(tmpdir(), "flotilla-tenancy-"));
  let namespaceBBefore: KubeObject;
  // B's private repository: the same commits, served only with B's credentials.
  let privateServer: GitHttpServer;
  let privateUrl: string;

  const getK = async (ns: string, name: string) =>
    (
      await mgmt.request<Kustomization>(
        "GET",
        `/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/${ns}/kustomizations/${name}`,
      )
    ).body;
  const getG = async (ns: string, name: string) =>
    (
      await mgmt.request<GitRepository>(
        "GET",
        `/apis/source.toolkit.fluxcd.io/v1/namespaces/${ns}/gitrepositories/${name}`,
      )
    ).body;
  const condition = (
    what: string,
    read: () => Promise<{ status?: { conditions?: Condition[] } }>,
    test: (c: Condition) => boolean,
    ms = 50_000,
  ) => {
    let last: Condition | undefined;
    return until(
      () => `${what} (last Ready: ${JSON.stringify(last)})`,
      async () => {
        last = ready(await read());
        return last !== undefined && test(last) && last;
      },
      ms,
      200,
    );
  };
  const failedWith = (name: string, reason: string, ns = "tenant-a") =>
    condition(
      `${ns}/${name}: Ready=False ${reason}`,
      () => getK(ns, name),
      (c) => c.status === "False" && c.reason === reason,
    );
  // Every Ready condition tenant-a/health-never goes through, recorded from the controller's start.
  const healthNeverSeen: Condition[] = [];
  let recorder: ReturnType<typeof setInterval> | undefined;
  const configMaps = async (client: ClusterClient, ns: string) =>
    (await client.request<{ items: KubeObject[] }>("GET", `/api/v1/namespaces/${ns}/configmaps`)).body.items
      .map((o) => o.metadata.name)
      .sort();

  beforeAll(async () => {
    bed = await startControllerTestbed({ message: "feat: tenants", files, workloads: ["cluster-a", "cluster-b"] });
    mgmt = bed.mgmt;
    clusterA = ClusterClient.fromKubeconfig(bed.harness.get("cluster-a")!.kubeconfig);
    clusterB = ClusterClient.fromKubeconfig(bed.harness.get("cluster-b")!.kubeconfig);
    const url = bed.repoUrl;
    privateServer = await startGitHttpServer(bed.repo.root, { username: "tenant-b", password: B_PASSWORD });
    privateUrl = `${privateServer.url}/repo.git`;
    const bCacheFolder = join(cacheDir, "git", cacheKey({ url }));
    await bed.apply([
      ...tenant("tenant-a"),
      ...tenant("tenant-b"),
      // Tenant A's second namespace: its takeover unit lives there, so that the units of
      // tenant-a, whose objects the taken-over namespace would hold, do not wait for it (inferred dependsOn).
      ...tenant("tenant-a-infra"),
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "cluster-a-kubeconfig", namespace: "tenant-a" },
        data: { value: b64(bed.harness.get("cluster-a")!.kubeconfig) },
      },
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "cluster-b-kubeconfig", namespace: "tenant-b" },
        data: { value: b64(bed.harness.get("cluster-b")!.kubeconfig) },
      },
      gitRepository("tenant-a", "platform", url),
      gitRepository("tenant-a-infra", "platform", url),
      gitRepository("tenant-b", "platform", url),
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "git-credentials", namespace: "tenant-b" },
        data: { username: b64("tenant-b"), password: b64(B_PASSWORD) },
      },
      gitRepository("tenant-b", "private", privateUrl, { branch: "main" }, "git-credentials"),
      // A asks B's private URL for a commit B has fetched, without B's credentials.
      gitRepository("tenant-a", "steal", privateUrl, { commit: bed.firstCommit }),
      // Local sources: a file:// URL, an absolute and a relative path, and the cache proof of concept —
      // B's source's folder in the git cache, read by a bare commit.
      gitRepository("tenant-a", "file-url", `file://${bed.repo.bare}`),
      gitRepository("tenant-a", "absolute-path", bed.repo.bare),
      gitRepository("tenant-a", "relative-path", "../tenant-b/platform"),
      gitRepository("tenant-a", "cache-poc", `file://${bCacheFolder}`, { commit: bed.firstCommit }),
      unit("tenant-b", "b-app", { path: "./tenant-b/app" }),
      unit("tenant-a", "app", { path: "./tenant-a/app" }),
      unit("tenant-a", "remote", {
        path: "./tenant-a/app",
        kubeConfig: { secretRef: { name: "cluster-a-kubeconfig" } },
      }),
      unit("tenant-a", "remote-outside", {
        path: "./attacks/outside",
        kubeConfig: { secretRef: { name: "cluster-a-kubeconfig" } },
      }),
      unit("tenant-a", "hijack", { path: "./attacks/kustomization-into-b" }),
      unit("tenant-a-infra", "takeover", { path: "./attacks/namespace-b" }),
      unit("tenant-a", "outside", { path: "./attacks/outside" }),
      unit("tenant-a", "create-namespace", { path: "./attacks/new-namespace" }),
      unit("tenant-a", "explicit-viewer", { path: "./tenant-a/viewer", serviceAccountName: "viewer" }),
      unit("tenant-a", "cross-source", {
        path: "./tenant-a/app",
        sourceRef: { kind: "GitRepository", name: "platform", namespace: "tenant-b" },
      }),
      unit("tenant-a", "cross-dependency", {
        path: "./tenant-a/app",
        dependsOn: [{ name: "b-app", namespace: "tenant-b" }],
      }),
      unit("tenant-a", "from-disk", { path: "./tenant-a/app", sourceRef: { kind: "GitRepository", name: "file-url" } }),
      unit("tenant-a", "prune-b", { path: "./tenant-a/prune" }),
      unit("tenant-a", "health-never", {
        path: "./tenant-a/health",
        healthChecks: [{ apiVersion: "v1", kind: "ConfigMap", name: "never", namespace: "tenant-a" }],
        timeout: "20s",
      }),
      unit("tenant-a", "health-later", {
        path: "./tenant-a/health-later",
        healthChecks: [{ kind: "ConfigMap", name: "later" }],
        timeout: "5m",
      }),
    ]);
    // Tenant A's service account on its own cluster: the same namespaced rights there (Flux
    // impersonates it on the remote cluster too); cluster A also has a namespace tenant-b.
    await clusterA.request("POST", "/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "tenant-a" },
    });
    await clusterA.request("POST", "/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "tenant-b" },
    });
    for (const o of namespacedRights("tenant-a")) {
      const plural = o.kind === "Role" ? "roles" : "rolebindings";
      await clusterA.request("POST", `/apis/rbac.authorization.k8s.io/v1/namespaces/tenant-a/${plural}`, o);
    }
    // Before this controller, A's unit prune-b (then run as the controller itself) had taken over
    // Namespace/tenant-b: its inventory lists it and the namespace carries A's owner labels. Once it
    // leaves A's repository, prune would delete B's namespace.
    await mgmt.request(
      "PATCH",
      "/api/v1/namespaces/tenant-b",
      { metadata: { labels: { [LABEL_NAME]: "prune-b", [LABEL_NAMESPACE]: "tenant-a" } } },
      { contentType: "application/merge-patch+json" },
    );
    await mgmt.request(
      "PATCH",
      "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/tenant-a/kustomizations/prune-b/status",
      { status: { inventory: { entries: [{ id: "_tenant-b__Namespace", v: "v1" }] } } },
      { contentType: "application/merge-patch+json" },
    );
    namespaceBBefore = (await mgmt.request<KubeObject>("GET", "/api/v1/namespaces/tenant-b")).body;
    recorder = setInterval(() => {
      void getK("tenant-a", "health-never").then(
        (k) => {
          const c = ready(k);
          const last = healthNeverSeen[healthNeverSeen.length - 1];
          if (c && (c.status !== last?.status || c.message !== last.message)) healthNeverSeen.push(c);
        },
        () => undefined,
      );
    }, 200);
    controller = await bed.startController({
      defaultServiceAccount: "deployer",
      noCrossNamespaceRefs: true,
      createNamespaces: true,
      cacheDir,
      concurrency: 4,
    });
    await condition(
      "tenant-b/b-app Ready",
      () => getK("tenant-b", "b-app"),
      (c) => c.status === "True",
    );
  }, 240_000);

  afterAll(async () => {
    clearInterval(recorder);
    await privateServer?.stop();
    clusterA?.close();
    clusterB?.close();
    await bed?.stop();
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it("applies a tenant's own unit as its service account, on the management cluster and on its own cluster", async () => {
    await condition(
      "tenant-a/app Ready",
      () => getK("tenant-a", "app"),
      (c) => c.status === "True",
    );
    await condition(
      "tenant-a/remote Ready",
      () => getK("tenant-a", "remote"),
      (c) => c.status === "True",
    );
    expect(await configMaps(mgmt, "tenant-a")).toContain("app");
    expect(await configMaps(clusterA, "tenant-a")).toContain("app");
  });

  it("refuses A's Kustomization written into namespace B with B's kubeconfig Secret: Forbidden, and B's cluster untouched", async () => {
    const c = await failedWith("hijack", "ReconciliationFailed");
    expect(c.message).toMatch(/Kustomization\/tenant-b\/hijack: Forbidden: .*system:serviceaccount:tenant-a:deployer/);
    expect(
      (
        await mgmt.request(
          "GET",
          "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/tenant-b/kustomizations/hijack",
          undefined,
          {
            allow: [404],
          },
        )
      ).status,
    ).toBe(404);
    expect(await configMaps(clusterB, "default")).not.toContain("pwned");
  });

  it("refuses A's takeover of Namespace/B, and A's prune of it through an old inventory", async () => {
    const takeover = await failedWith("takeover", "ReconciliationFailed", "tenant-a-infra");
    expect(takeover.message).toMatch(/Namespace\/tenant-b: Forbidden: .*system:serviceaccount:tenant-a-infra:deployer/);
    const prune = await failedWith("prune-b", "ReconciliationFailed");
    expect(prune.message).toMatch(
      /prune of _tenant-b__Namespace failed: Forbidden: .*system:serviceaccount:tenant-a:deployer/,
    );
    const ns = (await mgmt.request<KubeObject>("GET", "/api/v1/namespaces/tenant-b")).body;
    expect(ns.metadata.deletionTimestamp).toBeUndefined();
    expect(ns.metadata.uid).toBe(namespaceBBefore.metadata.uid);
    expect(ns.metadata.resourceVersion).toBe(namespaceBBefore.metadata.resourceVersion);
    // The inventory is kept: the unit still knows it has not pruned it.
    expect((await getK("tenant-a", "prune-b")).status?.inventory?.entries.map((e) => e.id)).toContain(
      "_tenant-b__Namespace",
    );
  });

  it("with --default-service-account, a unit writing outside its namespace fails with the apiserver's Forbidden, named — on the management cluster and on its own cluster", async () => {
    const local = await failedWith("outside", "ReconciliationFailed");
    expect(local.message).toMatch(
      /^ConfigMap\/tenant-b\/planted: Forbidden: configmaps "planted" is forbidden: User "system:serviceaccount:tenant-a:deployer" cannot/,
    );
    const remote = await failedWith("remote-outside", "ReconciliationFailed");
    expect(remote.message).toMatch(
      /^ConfigMap\/tenant-b\/planted: Forbidden: .*User "system:serviceaccount:tenant-a:deployer" cannot/,
    );
    expect(await configMaps(mgmt, "tenant-b")).not.toContain("planted");
    expect(await configMaps(clusterA, "tenant-b")).not.toContain("planted");
  });

  it("with --create-namespaces, checks and creates namespaces as the unit's identity: a tenant's own units still apply, and it cannot make a namespace", async () => {
    // A service account that may not read a Namespace (viewer in its own, deployer in tenant-b's) is
    // left to the stage's dry run, which names the real refusal (the other tests' messages); here the
    // namespace a unit needs is missing and deployer may not create it.
    const c = await failedWith("create-namespace", "ReconciliationFailed");
    expect(c.message).toMatch(
      /^ConfigMap\/tenant-a-new\/settings: Forbidden: .*User "system:serviceaccount:tenant-a:deployer" cannot/,
    );
    expect((await mgmt.request("GET", "/api/v1/namespaces/tenant-a-new", undefined, { allow: [404] })).status).toBe(
      404,
    );
  });

  it("acts as spec.serviceAccountName where a unit names one, ahead of the default", async () => {
    const c = await failedWith("explicit-viewer", "ReconciliationFailed");
    expect(c.message).toMatch(/ConfigMap\/tenant-a\/viewer-cm: Forbidden: .*system:serviceaccount:tenant-a:viewer/);
  });

  it("refuses a sourceRef or a dependsOn in another namespace with AccessDenied (--no-cross-namespace-refs)", async () => {
    expect((await failedWith("cross-source", "AccessDenied")).message).toBe(
      "can't access 'GitRepository/tenant-b/platform', cross-namespace references have been blocked (spec.sourceRef.namespace)",
    );
    expect((await failedWith("cross-dependency", "AccessDenied")).message).toBe(
      "can't access 'Kustomization/tenant-b/b-app', cross-namespace references have been blocked (spec.dependsOn)",
    );
  });

  it("refuses file://, absolute and relative GitRepository URLs, the git cache's own folders included, and applies nothing from them", async () => {
    for (const name of ["file-url", "absolute-path", "relative-path", "cache-poc"]) {
      const c = await condition(
        `tenant-a/${name}: URLInvalid`,
        () => getG("tenant-a", name),
        (x) => x.status === "False" && x.reason === "URLInvalid",
      );
      expect(c.message, name).toMatch(/is a path on the controller's disk, which a GitRepository may not read/);
      expect((await getG("tenant-a", name)).status?.artifact, name).toBeUndefined();
    }
    expect(controller.artifact("tenant-a/cache-poc")).toBeUndefined();
    const fromDisk = await failedWith("from-disk", "ArtifactFailed");
    expect(fromDisk.message).toBe("Source 'GitRepository/tenant-a/file-url' has no artifact yet (spec.sourceRef)");
  });

  it("reads B's private repository with B's Secret into a cache folder of B's own, and never serves it to A's source of the same URL", async () => {
    await condition(
      "tenant-b/private Ready",
      () => getG("tenant-b", "private"),
      (c) => c.status === "True",
    );
    const steal = await condition(
      "tenant-a/steal: GitOperationFailed",
      () => getG("tenant-a", "steal"),
      (c) => c.status === "False" && c.reason === "GitOperationFailed",
    );
    expect(steal.message).not.toContain(B_PASSWORD);
    expect((await getG("tenant-a", "steal")).status?.artifact).toBeUndefined();
    const uid = (await mgmt.request<KubeObject>("GET", "/api/v1/namespaces/tenant-b/secrets/git-credentials")).body
      .metadata.uid;
    expect(
      existsSync(
        join(
          cacheDir,
          "git",
          cacheKey({ url: privateUrl, credentialsIdentity: `tenant-b/git-credentials/${uid}` }),
          "objects",
        ),
      ),
    ).toBe(true);
    expect(existsSync(join(cacheDir, "git", cacheKey({ url: privateUrl })))).toBe(false);
  });

  it("waits for a health check outside the unit: not Ready while it is missing, naming it, then HealthCheckFailed at the timeout", async () => {
    const failed = await failedWith("health-never", "HealthCheckFailed");
    expect(failed.message).toBe("timeout waiting for: ConfigMap/tenant-a/never (not found)");
    // Before the timeout it was never Ready: Progressing, naming the object it waited for.
    expect(healthNeverSeen.some((c) => c.status === "True")).toBe(false);
    const pending = healthNeverSeen.find((c) => c.status === "Unknown");
    expect(pending?.reason).toBe("Progressing");
    expect(pending?.message).toMatch(
      /^running health checks for revision main@sha1:[0-9a-f]{40} with a timeout of 20s: waiting for: ConfigMap\/tenant-a\/never \(not found\)$/,
    );
  });

  it("becomes Ready once a health-checked object outside the unit appears (namespace defaulted to the unit's)", async () => {
    await condition(
      "tenant-a/health-later waiting",
      () => getK("tenant-a", "health-later"),
      (c) => c.status === "Unknown" && c.message.includes("ConfigMap/tenant-a/later (not found)"),
    );
    await mgmt.request("POST", "/api/v1/namespaces/tenant-a/configmaps", {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "later", namespace: "tenant-a" },
    });
    await condition(
      "tenant-a/health-later Ready",
      () => getK("tenant-a", "health-later"),
      (c) => c.status === "True",
    );
  });

  it("changes nothing of tenant B's: its namespace, objects, units and cluster are as B's own unit left them", async () => {
    expect(await configMaps(mgmt, "tenant-b")).toEqual(["b-app"]);
    const kustomizations = (
      await mgmt.request<{ items: Kustomization[] }>(
        "GET",
        "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/tenant-b/kustomizations",
      )
    ).body.items.map((k) => k.metadata.name);
    expect(kustomizations).toEqual(["b-app"]);
    expect(ready(await getK("tenant-b", "b-app"))?.status).toBe("True");
    expect(await configMaps(clusterB, "default")).toEqual([]);
    const ns = (await mgmt.request<KubeObject>("GET", "/api/v1/namespaces/tenant-b")).body;
    expect(ns.metadata.resourceVersion).toBe(namespaceBBefore.metadata.resourceVersion);
  });
});
