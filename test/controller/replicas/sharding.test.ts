import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClusterClient } from "../../../src/core/kube/index.js";
import { Controller } from "../../../src/controller/controller.js";
import { shardOf } from "../../../src/controller/replicas/ownership.js";
import type { Kustomization } from "../../../src/core/flux.js";
import type { Harness } from "../../../src/provision/local/harness.js";
import { startManagementCluster } from "../../support/management-cluster.js";

/**
 * Flux's sharding (`--watch-label-selector`), as Flux's docs set it up: shard controllers watch
 * `sharding.fluxcd.io/key in (shardN)`, the main one `!sharding.fluxcd.io/key`; a controller
 * without a selector watches everything. Each selector is its own replica set (Leases apart).
 */
const KEY = "sharding.fluxcd.io/key";

const unit = (name: string, shard?: string): Kustomization =>
  ({
    apiVersion: "kustomize.toolkit.fluxcd.io/v1",
    kind: "Kustomization",
    metadata: { name, namespace: "team", ...(shard ? { labels: { [KEY]: shard } } : {}) },
    spec: { interval: "10m", path: "./x", prune: true, sourceRef: { kind: "GitRepository", name: "absent" } },
  }) as unknown as Kustomization;

describe("sharding: --watch-label-selector as Flux shards", () => {
  let harness: Harness;
  let mgmt: ClusterClient;
  const controllers: Controller[] = [];

  beforeAll(async () => {
    ({ harness, mgmt } = await startManagementCluster());
    await mgmt.request("POST", "/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "team" },
    });
    for (const k of [unit("main-1"), unit("main-2"), unit("s1", "shard1"), unit("s2", "shard2")])
      await mgmt.request("POST", "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/team/kustomizations", k);
  }, 120_000);
  afterAll(async () => {
    for (const c of controllers) c.stop();
    mgmt?.close();
    await harness?.stop();
  });

  const start = async (watchLabelSelector?: string) => {
    const c = new Controller({
      kubeconfig: harness.get("mgmt")!.kubeconfig,
      ...(watchLabelSelector ? { watchLabelSelector } : {}),
    });
    controllers.push(c);
    await c.start();
    await c.whenIdle();
    return c
      .kustomizationList()
      .map((k) => k.metadata.name)
      .sort();
  };

  it("a shard sees only its units, the main controller only the unlabelled ones, a controller without selector all", async () => {
    expect(await start(`${KEY} in (shard1)`)).toEqual(["s1"]);
    expect(await start(`${KEY} in (shard2)`)).toEqual(["s2"]);
    expect(await start(`!${KEY}`)).toEqual(["main-1", "main-2"]);
    expect(await start()).toEqual(["main-1", "main-2", "s1", "s2"]);
  });

  it("puts replicas of different selectors in different replica sets", () => {
    expect(shardOf(undefined)).toBe("default");
    expect(shardOf(`${KEY} in (shard1)`)).not.toBe(shardOf(`${KEY} in (shard2)`));
    expect(shardOf(`${KEY} in (shard1)`)).toMatch(/^s-[0-9a-f]{12}$/);
  });
});
