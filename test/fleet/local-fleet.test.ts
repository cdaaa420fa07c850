import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterClient } from "../../src/core/kube/index.js";
import { startLocalFleet, type LocalFleet } from "../../src/fleet/local-fleet.js";
import { DiskTree } from "../../src/core/file-tree.js";
import type { Kustomization } from "../../src/core/flux.js";
import { objectRef, type KubeObject } from "../../src/core/object.js";
import { renderFlux } from "../../src/render/index.js";
import { TestRepo } from "../support/git-repo.js";
import { until } from "../support/until.js";

const REFERENCE = join(import.meta.dirname, "..", "plan", "fixtures", "reference");
const GITREPOSITORIES = "providers/aws/v1/mgmt/namespaced/flux-system/gitrepositories.yaml";
const EGRESS_POLICIES = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-egress, namespace: dummy}
spec:
  podSelector: {}
  policyTypes: [Egress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-dns-egress, namespace: dummy}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - ports:
    - {protocol: UDP, port: 53}
`;

const ready = (k: Kustomization) => k.status?.conditions?.find((c) => c.type === "Ready");
const clusterOf = (k: Kustomization) => k.spec.kubeConfig?.secretRef?.name.replace(/-kubeconfig$/, "") ?? "mgmt";

/** Whether every field `want` sets has the same value in `have` (the apiserver adds defaults and metadata). */
function contains(have: unknown, want: unknown): boolean {
  if (Array.isArray(want))
    return Array.isArray(have) && have.length === want.length && want.every((w, i) => contains(have[i], w));
  if (want && typeof want === "object") {
    if (!have || typeof have !== "object") return false;
    return Object.entries(want).every(([k, v]) => contains((have as Record<string, unknown>)[k], v));
  }
  return have === want;
}

describe("flotilla up keeps reconciling the reference repository: main rolls out to non-prod, the release ref to prod", () => {
  const repo = TestRepo.create();
  const trees = mkdtempSync(join(tmpdir(), "flotilla-trees-"));
  let fleet: LocalFleet;
  let mgmt: ClusterClient;
  const clients = new Map<string, ClusterClient>();
  const client = (cluster: string) => {
    if (!clients.has(cluster))
      clients.set(cluster, ClusterClient.fromKubeconfig(fleet.harness.get(cluster)!.kubeconfig));
    return clients.get(cluster)!;
  };
  const units = async () =>
    (await mgmt.request<{ items: Kustomization[] }>("GET", "/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations")).body
      .items;
  const revisionOf = (cluster: string, list: Kustomization[]) =>
    new Set(list.filter((u) => clusterOf(u) === cluster).map((u) => u.status?.lastAppliedRevision));
  /** Waits until all 16 units are Ready, those of the `release` source (prod's, and mgmt's access control) at `release`, the rest at `main`. */
  const converged = (main: string, release: string, ms = 90_000) => {
    let seen: Kustomization[] = [];
    const describe = () =>
      [
        `units of main at ${main}, of release at ${release}; last seen:`,
        ...seen.map(
          (u) =>
            `  ${u.metadata.namespace}/${u.metadata.name} ${ready(u)?.status} ${ready(u)?.reason} ${u.status?.lastAppliedRevision} ${ready(u)?.message?.slice(0, 200)}`,
        ),
      ].join("\n");
    return until(
      describe,
      async () => {
        const list = await units();
        seen = list;
        if (list.length !== 16 || !list.every((u) => ready(u)?.status === "True")) return false;
        const ok = list.every(
          (u) => u.status?.lastAppliedRevision === (u.spec.sourceRef.name === "release" ? release : main),
        );
        return ok && list;
      },
      ms,
    );
  };
  /** The files of a commit, as the controller's artifact holds them. */
  const treeAt = (sha: string) => {
    const dir = join(trees, sha);
    execFileSync("mkdir", ["-p", dir]);
    execFileSync("sh", ["-c", `git -C "${repo.work}" archive ${sha} | tar -x -C "${dir}"`]);
    return new DiskTree(dir);
  };
  /** Every object each unit renders at the revision it reports is live on its cluster, as rendered. */
  const expectClustersHoldTheRender = async (list: Kustomization[]) => {
    for (const unit of list) {
      const sha = unit.status!.lastAppliedRevision!.split("@sha1:")[1]!;
      const rendered = renderFlux(
        treeAt(sha),
        unit.spec.path ?? ".",
        unit.spec.targetNamespace ? { targetNamespace: unit.spec.targetNamespace } : {},
      );
      expect(rendered.length, `${unit.metadata.namespace}/${unit.metadata.name} renders objects`).toBeGreaterThan(0);
      const c = client(clusterOf(unit));
      for (const want of rendered) {
        const resource = (await c.resourceOf(want))!;
        const live = await c.request<KubeObject>(
          "GET",
          ClusterClient.pathOf(resource, want.metadata.namespace, want.metadata.name),
          undefined,
          { allow: [404] },
        );
        const where = `${objectRef(want)} of ${unit.metadata.namespace}/${unit.metadata.name} on ${clusterOf(unit)}`;
        expect(live.status, `${where} exists`).toBe(200);
        const { metadata, ...body } = want;
        expect(contains(live.body, body), `${where} is live as rendered`).toBe(true);
        expect(
          contains(live.body.metadata, {
            ...(metadata.labels ? { labels: metadata.labels } : {}),
            ...(metadata.annotations ? { annotations: metadata.annotations } : {}),
          }),
          `${where} has its labels and annotations`,
        ).toBe(true);
        expect(live.body.metadata.labels?.["kustomize.toolkit.fluxcd.io/name"]).toBe(unit.metadata.name);
      }
    }
  };
  const egressPolicies = async (cluster: string) =>
    (
      await client(cluster).request<{ items: KubeObject[] }>(
        "GET",
        "/apis/networking.k8s.io/v1/namespaces/dummy/networkpolicies",
      )
    ).body.items
      .map((o) => o.metadata.name)
      .filter((name) => name?.includes("egress"))
      .sort();

  beforeAll(async () => {
    cpSync(REFERENCE, repo.work, { recursive: true });
    repo.commit("feat: the reference fleet (#1)", {});
    for (const tag of ["v0.0.1", "v0.0.2", "v0.0.3"]) repo.git("tag", tag);
    fleet = await startLocalFleet({ repo: repo.work });
    mgmt = ClusterClient.fromKubeconfig(fleet.kubeconfig);
  }, 180_000);
  afterAll(async () => {
    mgmt?.close();
    for (const c of clients.values()) c.close();
    await fleet?.stop();
    repo.remove();
    rmSync(trees, { recursive: true, force: true });
  });

  it("brings the 16 units to Ready, and each workload cluster holds exactly what its units render", async () => {
    const sha = repo.git("rev-parse", "HEAD");
    expect(fleet.mode).toBe("flux");
    const list = await converged(`main@sha1:${sha}`, `v0.0.3@sha1:${sha}`);
    await expectClustersHoldTheRender(list);
    for (const cluster of ["non-prod-eu-west-1", "prod-eu-west-1"]) {
      const c = client(cluster);
      expect((await c.request("GET", "/api/v1/namespaces/dummy")).status, `${cluster}: the tenant's namespace`).toBe(
        200,
      );
      expect(
        (await c.request<{ items: unknown[] }>("GET", "/api/v1/namespaces/dummy/resourcequotas")).body.items,
        `${cluster}: the tenant's quota`,
      ).toHaveLength(1);
      const policies = (
        await c.request<{ items: KubeObject[] }>("GET", "/apis/networking.k8s.io/v1/namespaces/dummy/networkpolicies")
      ).body.items.map((o) => o.metadata.name);
      expect(policies.sort(), `${cluster}: the tenant's network policies`).toEqual([
        "allow-ingress-nginx",
        "default-deny",
      ]);
    }
    // The helloworld custom resource of each environment's common unit came after its CRD, without a failed attempt.
    const events = (
      await mgmt.request<{
        items: Array<{ reason: string; message: string; involvedObject: { name: string; namespace: string } }>;
      }>("GET", "/api/v1/events")
    ).body.items;
    expect(
      events.filter(
        (e) =>
          e.involvedObject.name === "common" &&
          /no matches for kind|could not find the requested resource|does not serve/.test(e.message),
      ),
    ).toEqual([]);
  }, 180_000);

  it("rolls a commit on main out to non-prod on up's poll request, leaving prod on its release tag", async () => {
    const before = repo.git("rev-parse", "HEAD");
    const polls = fleet.controller.triggeredBy("poll request", "flux-system/main");
    const started = Date.now();
    const sha = repo.commit("tenants(dummy): egress policies (#2)", {
      "tenants/aws/common/dummy/egress-policies.yaml": EGRESS_POLICIES,
    });
    const list = await converged(`main@sha1:${sha}`, `v0.0.3@sha1:${before}`);
    // The cause: following the repository, up asked the controller to poll main (its interval is 1m).
    // The time bound is loose on purpose; a busy 2-core machine says nothing about seconds.
    expect(fleet.controller.triggeredBy("poll request", "flux-system/main")).toBeGreaterThan(polls);
    expect((Date.now() - started) / 1000).toBeLessThan(90);
    expect(await egressPolicies("non-prod-eu-west-1")).toEqual(["allow-dns-egress", "deny-egress"]);
    expect(await egressPolicies("prod-eu-west-1")).toEqual([]);
    expect([...revisionOf("prod-eu-west-1", list)]).toEqual([`v0.0.3@sha1:${before}`]);
    await expectClustersHoldTheRender(list);
  }, 120_000);

  it("rolls prod forward when a tag is cut and the release ref moves to it in a commit on main", async () => {
    const tagged = repo.git("rev-parse", "HEAD");
    repo.git("tag", "v0.0.4");
    const started = Date.now();
    const gitrepositories = readFileSync(join(repo.work, GITREPOSITORIES), "utf8");
    expect(gitrepositories).toContain("tag: v0.0.3");
    const polls = fleet.controller.triggeredBy("poll request", "flux-system/release");
    const sha = repo.commit("chore(release): v0.0.4 (#3)", {
      [GITREPOSITORIES]: gitrepositories.replace("tag: v0.0.3", "tag: v0.0.4"),
    });
    const list = await converged(`main@sha1:${sha}`, `v0.0.4@sha1:${tagged}`);
    expect(fleet.controller.triggeredBy("poll request", "flux-system/release")).toBeGreaterThan(polls);
    expect((Date.now() - started) / 1000).toBeLessThan(90);
    expect(await egressPolicies("prod-eu-west-1")).toEqual(["allow-dns-egress", "deny-egress"]);
    const release = (
      await mgmt.request<{ status: { artifact: { revision: string } } }>(
        "GET",
        "/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/release",
      )
    ).body;
    expect(release.status.artifact.revision).toBe(`v0.0.4@sha1:${tagged}`);
    await expectClustersHoldTheRender(list);
  }, 120_000);
});
