import { closeSync, ftruncateSync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Controller } from "../../src/controller/controller.js";
import { startHttpServer, type HttpServer } from "../../src/controller/http-server.js";
import { builtWorkerScript } from "../../src/controller/render-worker.js";
import type { GitRepository, Kustomization } from "../../src/core/flux.js";
import type { KubeObject } from "../../src/core/object.js";
import { DEFAULT_SOURCE_LIMITS } from "../../src/source/limits.js";
import { ensureBuiltCli } from "../support/cli-process.js";
import { startControllerTestbed, type ControllerTestbed } from "../support/controller-testbed.js";
import { until } from "../support/until.js";
import { billionLaughs } from "./hostile-inputs.js";

/**
 * Hostile repository content against a running controller on a real apiserver: each attack fails
 * its own unit with its cause named, while /healthz keeps answering and another unit reconciles.
 */
const MiB = 1024 * 1024;
const indent = (text: string) =>
  text
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");
const files: Record<string, string> = {
  "apps/good/cm.yaml":
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: good, namespace: default}\ndata: {colour: blue}\n",
  "apps/bomb/bomb.yaml": `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol, namespace: default}\ndata:\n${indent(billionLaughs("a"))}\n`,
  "apps/bomb-kustomization/kustomization.yaml": `resources: []\n${billionLaughs("x-lol")}\n`,
  // Over the file limit this controller runs with (1 MiB), under the artifact's: fetched, never read.
  "apps/big/zeros.yaml": "\0".repeat(5 * 1024 * 1024),
};

const unit = (name: string, path: string, source = "platform"): KubeObject => ({
  apiVersion: "kustomize.toolkit.fluxcd.io/v1",
  kind: "Kustomization",
  metadata: { name, namespace: "flux-system" },
  spec: { interval: "10m", prune: true, path, sourceRef: { kind: "GitRepository", name: source } },
});
type Conditioned = {
  status?: { conditions?: Array<{ type: string; status: string; reason: string; message: string }> };
};
const ready = (o: Conditioned) => o.status?.conditions?.find((c) => c.type === "Ready");

describe("hostile content fails its own unit; the controller keeps serving", () => {
  let bed: ControllerTestbed;
  let controller: Controller;
  let server: HttpServer;
  const health = { worstMs: 0, answers: 0, failures: 0 };
  let rssBaseline = 0;
  let rssPeak = 0;
  let probing = true;
  let probe: Promise<void> | undefined;

  const get = async <T>(path: string) => (await bed.mgmt.request<T>("GET", path)).body;
  const unitState = (name: string) =>
    get<Kustomization>(`/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/${name}`);
  const failedWith = (name: string, reason: string) =>
    until(`${name}: Ready=False ${reason}`, async () => {
      const c = ready(await unitState(name));
      return c?.status === "False" && c.reason === reason && c.message;
    });

  beforeAll(async () => {
    ensureBuiltCli(); // the render worker runs the build's compiled JavaScript
    bed = await startControllerTestbed({ message: "feat: apps", files });
    // Branch `blobs`: a one-object folder beside 400 MB of zeros (sparse on disk, 400 KB packed).
    const repo = bed.repo;
    repo.git("checkout", "-q", "-b", "blobs");
    mkdirSync(join(repo.work, "zeros"), { recursive: true });
    const fd = openSync(join(repo.work, "zeros", "zeros.yaml"), "w");
    ftruncateSync(fd, 400 * 1000 * 1000);
    closeSync(fd);
    repo.git("add", "-A");
    repo.git("commit", "-q", "-m", "chore: zeros");
    repo.git("checkout", "-q", "main");
    repo.push();
    await bed.apply([
      ...bed.fluxSource("platform"),
      {
        apiVersion: "source.toolkit.fluxcd.io/v1",
        kind: "GitRepository",
        metadata: { name: "blobs", namespace: "flux-system" },
        spec: { url: bed.repoUrl, ref: { branch: "blobs" }, interval: "10m" },
      },
    ]);
    controller = await bed.startController({
      render: { script: builtWorkerScript(pathToFileURL(join(import.meta.dirname, "..", "..") + "/")) },
      sourceLimits: { ...DEFAULT_SOURCE_LIMITS, maxFileBytes: MiB },
    });
    server = await startHttpServer({
      port: 0,
      host: "127.0.0.1",
      metrics: controller.metrics,
      ready: () => controller.ready(),
      receivers: () => [],
      logger: pino({ level: "silent" }),
    });
    rssBaseline = rssPeak = process.memoryUsage().rss;
    probe = (async () => {
      while (probing) {
        const start = performance.now();
        const res = await fetch(`${server.url}/healthz`).catch(() => undefined);
        health.worstMs = Math.max(health.worstMs, performance.now() - start);
        if (res?.status === 200) health.answers++;
        else health.failures++;
        rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
  }, 300_000);
  afterAll(async () => {
    probing = false;
    await probe;
    await server?.close();
    await bed?.stop();
  });

  it("alias bombs (manifest, kustomization.yaml) and a file over the file limit fail their own units naming the file; 400 MB of zeros fail their source; another unit reconciles", async () => {
    const start = Date.now();
    await bed.apply([
      unit("bomb", "./apps/bomb"),
      unit("bomb-kustomization", "./apps/bomb-kustomization"),
      unit("big", "./apps/big"),
      unit("zeros", "./zeros", "blobs"),
      unit("good", "./apps/good"),
    ]);

    expect(await failedWith("bomb", "BuildFailed")).toMatch(
      /^apps\/bomb\/bomb\.yaml:\d+: malformed YAML: document contains excessive aliasing$/,
    );
    expect(await failedWith("bomb-kustomization", "BuildFailed")).toMatch(
      /^apps\/bomb-kustomization\/kustomization\.yaml:\d+: malformed YAML: document contains excessive aliasing$/,
    );
    expect(await failedWith("big", "BuildFailed")).toMatch(
      /^apps\/big\/zeros\.yaml: .*: file 'apps\/big\/zeros\.yaml' of \S+ is 5 MiB, larger than 1 MiB \(--max-file-size\)$/,
    );
    const bombsMs = Date.now() - start;

    const blobs = await until("GitRepository blobs Ready=False", async () => {
      const c = ready(
        await get<GitRepository & Conditioned>(
          "/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/blobs",
        ),
      );
      return c?.status === "False" && c.message;
    });
    expect(blobs).toContain(
      "the fetched pack holds an object of 381.5 MiB, larger than the artifact may be, 100 MiB (--max-artifact-size)",
    );
    const zeros = ready(await unitState("zeros"));
    expect(zeros?.status).not.toBe("True");
    const zerosMs = Date.now() - start;

    await until("good Ready", async () => ready(await unitState("good"))?.status === "True");
    expect((await bed.mgmt.request<KubeObject>("GET", "/api/v1/namespaces/default/configmaps/good")).body.data).toEqual(
      { colour: "blue" },
    );

    process.stdout.write(
      `${JSON.stringify({ bombsMs, zerosMs, healthzWorstMs: Math.round(health.worstMs), healthzAnswers: health.answers, rssGrowthMiB: Math.round((rssPeak - rssBaseline) / MiB) })}\n`,
    );
    // Loose bounds on a shared machine; the causes are asserted above.
    expect(bombsMs).toBeLessThan(10_000);
    expect(zerosMs).toBeLessThan(10_000);
    expect(health.failures).toBe(0);
    expect(health.answers).toBeGreaterThan(0);
    expect(health.worstMs).toBeLessThan(1000);
    expect((rssPeak - rssBaseline) / MiB).toBeLessThan(300);
  });
});
