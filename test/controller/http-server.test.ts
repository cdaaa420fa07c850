import { createHmac } from "node:crypto";
import net from "node:net";
import { Writable } from "node:stream";
import pino from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  parseListenAddress,
  startHttpServer,
  type HookReceiver,
  type HttpServer,
} from "../../src/controller/http-server.js";
import type { PushEvent } from "../../src/controller/webhook.js";
import { Metrics } from "../../src/status/metrics.js";

const GITHUB_TOKEN = "gh-path-token-7f3a";
const GITHUB_SECRET = "gh-hmac-secret-91bd";
const GENERIC_TOKEN = "generic-token-c0ffee";
const GENERIC_SECRET = "generic-hmac-secret-d00d";
const GITLAB_TOKEN = "gl-path-token-5e11";
const GITLAB_SECRET = "gl-shared-secret-77aa";
const BARE_TOKEN = "bare-token-no-secret-0b0e";
const SECRETS = [GITHUB_TOKEN, GITHUB_SECRET, GENERIC_TOKEN, GENERIC_SECRET, GITLAB_TOKEN, GITLAB_SECRET, BARE_TOKEN];

const hmac = (key: string, body: string) => createHmac("sha256", key).update(body).digest("hex");

describe("the controller's HTTP server: metrics, probes and push webhooks over real HTTP", () => {
  let server: HttpServer;
  let ready = false;
  let logText = "";
  const pushes: Array<{ receiver: string; event: PushEvent }> = [];
  const metrics = new Metrics();
  const receivers: HookReceiver[] = [
    { token: GITHUB_TOKEN, secret: GITHUB_SECRET, onPush: (event) => pushes.push({ receiver: "github", event }) },
    { token: GENERIC_TOKEN, secret: GENERIC_SECRET, onPush: (event) => pushes.push({ receiver: "generic", event }) },
    { token: GITLAB_TOKEN, secret: GITLAB_SECRET, onPush: (event) => pushes.push({ receiver: "gitlab", event }) },
    { token: BARE_TOKEN, secret: undefined, onPush: (event) => pushes.push({ receiver: "bare", event }) },
  ];
  const hook = (token: string, body: string, headers: Record<string, string>) =>
    fetch(`${server.url}/hook/${token}`, {
      method: "POST",
      body,
      headers: { "content-type": "application/json", ...headers },
    });

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        logText += chunk.toString();
        done();
      },
    });
    const logger = pino({ level: "debug" }, sink);
    server = await startHttpServer({
      port: 0,
      host: "127.0.0.1",
      metrics,
      ready: () => ready,
      receivers: () => receivers,
      logger,
    });
  });
  afterAll(async () => {
    await server?.close();
  });
  beforeEach(() => {
    pushes.length = 0;
  });

  it("answers /healthz always and /readyz only once ready", async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const notReady = await fetch(`${server.url}/readyz`);
    expect([notReady.status, await notReady.text()]).toEqual([503, "not ready\n"]);
    ready = true;
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    expect((await fetch(`${server.url}/nothing-here`)).status).toBe(404);
    expect((await fetch(`${server.url}/metrics`, { method: "DELETE" })).status).toBe(405);
  });

  it("serves gotk-like metrics in the Prometheus text format", async () => {
    metrics.reconcileDuration.observe(
      { kind: "Kustomization", name: "tenants-prod", namespace: "prod-eu-west-1" },
      0.3,
    );
    metrics.reconcileDuration.observe({ kind: "Kustomization", name: "tenants-prod", namespace: "prod-eu-west-1" }, 7);
    metrics.recordReady("Kustomization", "prod-eu-west-1", "tenants-prod", "False", { revision: "v0.0.3@sha1:abc" });
    metrics.recordReady("Kustomization", "prod-eu-west-1", "tenants-prod", "True", { revision: "v0.0.3@sha1:abc" });
    metrics.recordReady("GitRepository", "flux-system", "main", "True");
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const text = await res.text();
    const labels = 'kind="Kustomization",name="tenants-prod",namespace="prod-eu-west-1"';
    expect(text).toContain("# TYPE gotk_reconcile_duration_seconds histogram\n");
    expect(text).toContain(`gotk_reconcile_duration_seconds_bucket{${labels},le="0.25"} 0\n`);
    expect(text).toContain(`gotk_reconcile_duration_seconds_bucket{${labels},le="0.5"} 1\n`);
    expect(text).toContain(`gotk_reconcile_duration_seconds_bucket{${labels},le="10"} 2\n`);
    expect(text).toContain(`gotk_reconcile_duration_seconds_bucket{${labels},le="+Inf"} 2\n`);
    expect(text).toContain(`gotk_reconcile_duration_seconds_sum{${labels}} 7.3\n`);
    expect(text).toContain(`gotk_reconcile_duration_seconds_count{${labels}} 2\n`);
    expect(text).toContain(`gotk_reconcile_condition{${labels},type="Ready",status="True"} 1\n`);
    expect(text).toContain(`gotk_reconcile_condition{${labels},type="Ready",status="False"} 0\n`);
    // One info series per object: the earlier False one is replaced, not kept beside it.
    expect(text.match(/^gotk_resource_info\{kind="Kustomization".*$/gm)).toEqual([
      `gotk_resource_info{${labels},ready="True",suspended="false",revision="v0.0.3@sha1:abc"} 1`,
    ]);
    expect(text).toContain(
      'gotk_resource_info{kind="GitRepository",name="main",namespace="flux-system",ready="True",suspended="false",revision=""} 1\n',
    );
    expect(text).toContain(`flotilla_ready{${labels}} 1\n`);
    // Every sample line is `name{labels} number` and every metric has HELP and TYPE.
    for (const line of text.trimEnd().split("\n"))
      expect(line).toMatch(/^(# (HELP|TYPE) \w+ .+|[a-z_]+(\{[^}]*\})? -?[\d.e+]+|[a-z_]+(\{[^}]*\})? \+Inf)$/);

    metrics.forget("Kustomization", "prod-eu-west-1", "tenants-prod");
    const after = await (await fetch(`${server.url}/metrics`)).text();
    expect(after).not.toContain('name="tenants-prod"');
    expect(after).toContain('name="main"');
  });

  it("accepts a GitHub push signed with the receiver's secret and hands it to that receiver", async () => {
    const body = JSON.stringify({
      ref: "refs/heads/main",
      repository: { clone_url: "https://github.com/org/platform.git", ssh_url: "git@github.com:org/platform.git" },
    });
    const res = await hook(GITHUB_TOKEN, body, {
      "x-github-event": "push",
      "x-hub-signature-256": `sha256=${hmac(GITHUB_SECRET, body)}`,
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      sender: "github",
      ref: "refs/heads/main",
      urls: ["https://github.com/org/platform.git", "git@github.com:org/platform.git"],
    });
    expect(pushes).toEqual([
      {
        receiver: "github",
        event: {
          sender: "github",
          ref: "refs/heads/main",
          urls: ["https://github.com/org/platform.git", "git@github.com:org/platform.git"],
        },
      },
    ]);
  });

  it("refuses a GitHub push signed with the path token instead of the secret, or with a tampered body (401)", async () => {
    const body = JSON.stringify({
      ref: "refs/heads/main",
      repository: { clone_url: "https://github.com/org/platform.git" },
    });
    const withToken = await hook(GITHUB_TOKEN, body, {
      "x-github-event": "push",
      "x-hub-signature-256": `sha256=${hmac(GITHUB_TOKEN, body)}`,
    });
    expect(withToken.status).toBe(401);
    expect(await withToken.text()).toContain("X-Hub-Signature-256");
    const tampered = await hook(GITHUB_TOKEN, body.replace("main", "evil"), {
      "x-github-event": "push",
      "x-hub-signature-256": `sha256=${hmac(GITHUB_SECRET, body)}`,
    });
    expect(tampered.status).toBe(401);
    const unsigned = await hook(GITHUB_TOKEN, body, { "x-github-event": "push" });
    expect(unsigned.status).toBe(401);
    expect(pushes).toEqual([]);
  });

  it("answers 202 to a signed GitHub event that is not a push, and 200 to a ping", async () => {
    const body = JSON.stringify({ action: "opened" });
    const issue = await hook(GITHUB_TOKEN, body, {
      "x-github-event": "issues",
      "x-hub-signature-256": `sha256=${hmac(GITHUB_SECRET, body)}`,
    });
    expect([issue.status, await issue.text()]).toEqual([202, "ignored GitHub event 'issues'\n"]);
    const ping = await hook(GITHUB_TOKEN, "{}", {
      "x-github-event": "ping",
      "x-hub-signature-256": `sha256=${hmac(GITHUB_SECRET, "{}")}`,
    });
    expect(ping.status).toBe(200);
    expect(pushes.map((p) => p.event)).toEqual([{ sender: "github", urls: [] }]);
  });

  it("accepts a GitLab push whose X-Gitlab-Token is the secret and refuses the URL token or another", async () => {
    const body = JSON.stringify({
      ref: "refs/tags/v0.0.4",
      project: { git_http_url: "https://gitlab.com/g/platform.git" },
    });
    const ok = await hook(GITLAB_TOKEN, body, { "x-gitlab-event": "Tag Push Hook", "x-gitlab-token": GITLAB_SECRET });
    expect(ok.status).toBe(200);
    const bad = await hook(GITLAB_TOKEN, body, { "x-gitlab-event": "Push Hook", "x-gitlab-token": GENERIC_TOKEN });
    expect(bad.status).toBe(401);
    expect(
      (await hook(GITLAB_TOKEN, body, { "x-gitlab-event": "Push Hook", "x-gitlab-token": GITLAB_TOKEN })).status,
    ).toBe(401);
    expect(pushes).toEqual([
      {
        receiver: "gitlab",
        event: { sender: "gitlab", ref: "refs/tags/v0.0.4", urls: ["https://gitlab.com/g/platform.git"] },
      },
    ]);
  });

  it("accepts a generic hook signed with the secret, as X-Signature, and refuses one signed with the URL token", async () => {
    const body = JSON.stringify({ url: "https://git.example.com/platform" });
    const ok = await hook(GENERIC_TOKEN, body, { "x-signature": `sha256=${hmac(GENERIC_SECRET, body)}` });
    expect(ok.status).toBe(200);
    const withToken = await hook(GENERIC_TOKEN, body, { "x-signature": `sha256=${hmac(GENERIC_TOKEN, body)}` });
    expect(withToken.status).toBe(401);
    const notJson = await hook(GENERIC_TOKEN, "not json", { "x-signature": hmac(GENERIC_SECRET, "not json") });
    expect(notJson.status).toBe(400);
    const noRepository = await hook(GENERIC_TOKEN, "{}", { "x-signature": hmac(GENERIC_SECRET, "{}") });
    expect([noRepository.status, await noRepository.text()]).toEqual([
      400,
      'payload names no repository ({"url": "<repository URL>"} or repository.url), so nothing is polled\n',
    ]);
    expect(pushes).toEqual([
      { receiver: "generic", event: { sender: "generic", urls: ["https://git.example.com/platform"] } },
    ]);
  });

  it("without a secret, refuses a request signed with the URL token and accepts an unsigned one that names a repository", async () => {
    const body = JSON.stringify({ url: "https://git.example.com/platform" });
    const signed = await hook(BARE_TOKEN, body, { "x-signature": `sha256=${hmac(BARE_TOKEN, body)}` });
    expect(signed.status).toBe(401);
    expect(await signed.text()).toContain("FLOTILLA_WEBHOOK_SECRET");
    const github = await hook(BARE_TOKEN, body, {
      "x-github-event": "push",
      "x-hub-signature-256": `sha256=${hmac(BARE_TOKEN, body)}`,
    });
    expect(github.status).toBe(401);
    expect((await hook(BARE_TOKEN, body, {})).status).toBe(200);
    expect((await hook(BARE_TOKEN, "", {})).status).toBe(400);
    expect(pushes).toEqual([
      { receiver: "bare", event: { sender: "generic", urls: ["https://git.example.com/platform"] } },
    ]);
  });

  it("answers 404 to an unknown token (even one signed correctly with it), 405 to a GET, 413 to a huge payload", async () => {
    const body = "{}";
    expect((await hook("no-such-token", body, { "x-signature": hmac("no-such-token", body) })).status).toBe(404);
    expect((await hook(GITHUB_TOKEN.slice(0, -1), body, { "x-signature": hmac(GITHUB_SECRET, body) })).status).toBe(
      404,
    );
    expect((await fetch(`${server.url}/hook/`, { method: "POST", body })).status).toBe(404);
    expect((await fetch(`${server.url}/hook/${GENERIC_TOKEN}`)).status).toBe(405);
    const huge = JSON.stringify({ url: "x", pad: "a".repeat(1024 * 1024) });
    expect((await hook(GENERIC_TOKEN, huge, { "x-signature": hmac(GENERIC_SECRET, huge) })).status).toBe(413);
    expect(pushes).toEqual([]);
    // The server still answers after refusing a payload.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it("asks for the receivers on every request, so a new receiver works at once", async () => {
    const token = "late-token-42";
    const body = JSON.stringify({ url: "https://git.example.com/platform" });
    expect((await hook(token, body, {})).status).toBe(404);
    receivers.push({ token, secret: undefined, onPush: (event) => pushes.push({ receiver: "late", event }) });
    try {
      expect((await hook(token, body, {})).status).toBe(200);
      expect(pushes.map((p) => p.receiver)).toEqual(["late"]);
    } finally {
      receivers.pop();
    }
  });

  it("logged every hook it refused or accepted, and never a token or a secret", () => {
    const lines = logText
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { msg: string; status?: number });
    expect(lines.filter((l) => l.msg === "push received").length).toBeGreaterThanOrEqual(4);
    expect(lines.some((l) => l.msg === "hook refused" && l.status === 401)).toBe(true);
    expect(lines.some((l) => l.msg === "hook for an unknown token" && l.status === 404)).toBe(true);
    for (const secret of [...SECRETS, "no-such-token", "late-token-42"]) expect(logText).not.toContain(secret);
  });
});

/** A POST whose body is announced as `declared` bytes but only `sent` of them ever arrive; resolves with the status line, or "none". */
function heldUpload(url: string, path: string, declared: number, sent: number, waitMs: number): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname);
    let text = "";
    const done = (value: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => done("none"), waitMs);
    socket.on("error", () => {});
    socket.on("data", (d: Buffer) => {
      text += d.toString("latin1");
      const line = /^(HTTP\/1\.1 \d{3})/.exec(text);
      if (line) done(line[1]!);
    });
    socket.write(`POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-length: ${declared}\r\n\r\n`);
    if (sent > 0) socket.write(Buffer.alloc(sent, 0x20));
  });
}

describe("hook requests are refused before their payload is read", () => {
  let server: HttpServer;
  const pushes: PushEvent[] = [];
  beforeAll(async () => {
    const receivers: HookReceiver[] = [{ token: "t0k", secret: "s3c", onPush: (e) => pushes.push(e) }];
    server = await startHttpServer({
      port: 0,
      host: "127.0.0.1",
      metrics: new Metrics(),
      ready: () => true,
      receivers: () => receivers,
      logger: pino({ level: "silent" }),
      maxConcurrentHooks: 2,
      hookBodyTimeoutMs: 300,
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  it("answers an unknown token 404 while its payload is still arriving", async () => {
    expect(await heldUpload(server.url, "/hook/wrong", 1024 * 1024, 1000, 5_000)).toBe("HTTP/1.1 404");
  });

  it("answers a payload declared over 1 MiB 413 before reading it", async () => {
    expect(await heldUpload(server.url, "/hook/t0k", 1024 * 1024 + 1, 10, 5_000)).toBe("HTTP/1.1 413");
  });

  it("answers 503 to a hook beyond the ones being read, and 408 to a payload that arrives too slowly", async () => {
    // Two uploads hold both reading slots (each is answered 408 after 300 ms); the third finds none.
    const holding = [
      heldUpload(server.url, "/hook/t0k", 100, 10, 5_000),
      heldUpload(server.url, "/hook/t0k", 100, 10, 5_000),
    ];
    await new Promise((r) => setTimeout(r, 100));
    expect(await heldUpload(server.url, "/hook/t0k", 100, 10, 5_000)).toBe("HTTP/1.1 503");
    expect(await Promise.all(holding)).toEqual(["HTTP/1.1 408", "HTTP/1.1 408"]);
    // The slots are free again: a complete signed push goes through.
    const body = JSON.stringify({ url: "https://git.example.com/platform" });
    const res = await fetch(`${server.url}/hook/t0k`, {
      method: "POST",
      body,
      headers: { "x-signature": hmac("s3c", body) },
    });
    expect(res.status).toBe(200);
    expect(pushes).toEqual([{ sender: "generic", urls: ["https://git.example.com/platform"] }]);
  });
});

describe("startHttpServer", () => {
  it("fails clearly when the port is taken", async () => {
    const logger = pino({ level: "silent" });
    const first = await startHttpServer({
      port: 0,
      host: "127.0.0.1",
      metrics: new Metrics(),
      ready: () => true,
      receivers: () => [],
      logger,
    });
    try {
      const port = Number(new URL(first.url).port);
      await expect(
        startHttpServer({
          port,
          host: "127.0.0.1",
          metrics: new Metrics(),
          ready: () => true,
          receivers: () => [],
          logger,
        }),
      ).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await first.close();
    }
  });
});

describe("parseListenAddress", () => {
  it("reads :PORT, HOST:PORT, [IPv6]:PORT and a bare port", () => {
    expect(parseListenAddress(":8080")).toEqual({ host: "0.0.0.0", port: 8080 });
    expect(parseListenAddress("9090")).toEqual({ host: "0.0.0.0", port: 9090 });
    expect(parseListenAddress("127.0.0.1:0")).toEqual({ host: "127.0.0.1", port: 0 });
    expect(parseListenAddress("[::1]:8080")).toEqual({ host: "::1", port: 8080 });
  });

  it("refuses anything else, naming the flag", () => {
    for (const bad of ["", ":", "host:", ":http", ":70000", "::1:8080", "a b:80", "http://x:80"]) {
      expect(() => parseListenAddress(bad), bad).toThrow(/is not a listen address/);
    }
    expect(() => parseListenAddress("x", "--metrics-addr")).toThrow(
      expect.objectContaining({ location: { field: "--metrics-addr" } }),
    );
  });
});
