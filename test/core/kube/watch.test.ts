import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterClient } from "../../../src/core/kube/client.js";
import { ResourceWatch, stripManagedFields, type WatchEventType } from "../../../src/core/kube/watch.js";
import type { KubeObject } from "../../../src/core/object.js";
import { startHarness, type Harness } from "../../../src/provision/local/harness.js";

const CONFIGMAPS = "/api/v1/namespaces/default/configmaps";

/** Resolves when `check` holds, polling every 20 ms; fails after `ms` naming what it waited for. */
async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("the one list-and-watch, on a real kube-apiserver", () => {
  let harness: Harness;
  let client: ClusterClient;
  beforeAll(async () => {
    harness = await startHarness({ profile: "apiserver", clusters: ["watch"] });
    client = ClusterClient.fromKubeconfig(harness.clusters[0]!.kubeconfig);
  });
  afterAll(async () => {
    client?.close();
    await harness?.stop();
  });

  const configMap = (name: string, value: string) =>
    client.request("POST", CONFIGMAPS, {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name, labels: { test: "watch" } },
      data: { value },
    });

  it("lists in pages, then resumes from the last resourceVersion when the server ends each watch: no re-list, no event lost or repeated", async () => {
    for (let i = 0; i < 5; i++) await configMap(`paged-${i}`, "0");
    const events: Array<[WatchEventType, string]> = [];
    const w = new ResourceWatch<KubeObject>(
      client,
      `${CONFIGMAPS}?labelSelector=test%3Dwatch`,
      { onEvent: (t, o) => events.push([t, o.metadata.name!]) },
      undefined,
      { timeoutSeconds: 1, pageSize: 2 },
    );
    const listsBefore = client.counts.list;
    await w.start();
    expect(client.counts.list - listsBefore).toBe(3); // 5 items in pages of 2
    expect(events.map(([, n]) => n).sort()).toEqual(["paged-0", "paged-1", "paged-2", "paged-3", "paged-4"]);
    try {
      // Changes spread over several 1-second watch requests.
      for (let i = 0; i < 3; i++) {
        await client.request(
          "PATCH",
          `${CONFIGMAPS}/paged-${i}`,
          { data: { value: String(i + 1) } },
          { contentType: "application/merge-patch+json" },
        );
        await new Promise((r) => setTimeout(r, 1200));
      }
      await client.request("DELETE", `${CONFIGMAPS}/paged-4`);
      await until(() => events.some(([t, n]) => t === "DELETED" && n === "paged-4"), "the DELETED event");
      expect(client.counts.watch).toBeGreaterThanOrEqual(3);
      expect(w.relists).toBe(1);
      expect(events.slice(5)).toEqual([
        ["MODIFIED", "paged-0"],
        ["MODIFIED", "paged-1"],
        ["MODIFIED", "paged-2"],
        ["DELETED", "paged-4"],
      ]);
    } finally {
      await w.stop();
    }
  });

  it("a transform (stripManagedFields) shapes listed and watched objects alike, before they are kept or delivered", async () => {
    await configMap("stripped", "0");
    const delivered: KubeObject[] = [];
    const w = new ResourceWatch<KubeObject>(
      client,
      `${CONFIGMAPS}?fieldSelector=metadata.name%3Dstripped`,
      { onEvent: (_, o) => delivered.push(o) },
      undefined,
      { transform: stripManagedFields },
    );
    await w.start();
    try {
      await client.request(
        "PATCH",
        `${CONFIGMAPS}/stripped`,
        { data: { value: "1" } },
        {
          contentType: "application/merge-patch+json",
        },
      );
      await until(() => delivered.length === 2, "the listed object and the watched change");
      const onServer = (await client.request<KubeObject>("GET", `${CONFIGMAPS}/stripped`)).body;
      expect(onServer.metadata.managedFields).toBeDefined();
      expect(delivered.map((o) => [o.data, o.metadata.managedFields])).toEqual([
        [{ value: "0" }, undefined],
        [{ value: "1" }, undefined],
      ]);
      expect(w.objects()[0]?.metadata.managedFields).toBeUndefined();
    } finally {
      await w.stop();
    }
  });
});

/**
 * A simulated apiserver for the one answer a real one on this machine cannot be made to give: a
 * kube-apiserver serves old resourceVersions from its watch cache (1.20 answers a watch from
 * resourceVersion=1 with an empty stream), and 410 Gone needs etcd compaction behind it.
 */
function simulatedApiserverAnswering410(): Promise<{ server: http.Server; url: string; lists: () => number }> {
  let lists = 0;
  let watches = 0;
  const cm = (name: string, rv: string, uid = name) => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: "default", uid, resourceVersion: rv },
  });
  const server = http.createServer((req, res) => {
    res.setHeader("Content-Type", "application/json");
    if (!req.url!.includes("watch=1")) {
      lists++;
      // First list: a, b, c. After the 410: a gone, b changed, c deleted and created again (new uid), d new.
      const items =
        lists === 1
          ? [cm("a", "10"), cm("b", "11"), cm("c", "12")]
          : [cm("b", "21"), cm("c", "22", "c-2"), cm("d", "23")];
      res.end(
        JSON.stringify({
          kind: "ConfigMapList",
          apiVersion: "v1",
          metadata: { resourceVersion: lists === 1 ? "12" : "23" },
          items: items.map(({ apiVersion: _, kind: __, ...rest }) => rest),
        }),
      );
      return;
    }
    watches++;
    if (watches === 1) {
      res.write(
        `${JSON.stringify({ type: "BOOKMARK", object: { kind: "ConfigMap", apiVersion: "v1", metadata: { resourceVersion: "15" } } })}\n`,
      );
      res.end(
        `${JSON.stringify({ type: "ERROR", object: { kind: "Status", apiVersion: "v1", status: "Failure", code: 410, reason: "Expired", message: "too old resource version: 15 (20)" } })}\n`,
      );
      return;
    }
    setTimeout(() => res.end(), 200);
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, lists: () => lists }),
    ),
  );
}

describe("410 Gone, against a simulated apiserver", () => {
  it("an expired resourceVersion (an ERROR event with code 410) re-lists and reports what vanished, changed, was replaced or appeared meanwhile", async () => {
    const sim = await simulatedApiserverAnswering410();
    const client = new ClusterClient({ server: sim.url });
    const events: Array<[WatchEventType, string, string]> = [];
    const w = new ResourceWatch<KubeObject>(client, "/api/v1/namespaces/default/configmaps", {
      onEvent: (t, o) => events.push([t, o.metadata.name!, String(o.metadata.uid)]),
    });
    try {
      await w.start();
      await until(() => w.relists === 2, "a re-list after 410 Gone");
      expect(events).toEqual([
        ["ADDED", "a", "a"],
        ["ADDED", "b", "b"],
        ["ADDED", "c", "c"],
        ["MODIFIED", "b", "b"],
        ["DELETED", "c", "c"],
        ["ADDED", "c", "c-2"],
        ["ADDED", "d", "d"],
        ["DELETED", "a", "a"],
      ]);
      expect(
        w
          .objects()
          .map((o) => o.metadata.name)
          .sort(),
      ).toEqual(["b", "c", "d"]);
    } finally {
      await w.stop();
      client.close();
      sim.server.close();
    }
  });
});
