import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeError } from "../../../src/core/errors.js";
import { ClusterClient } from "../../../src/core/kube/client.js";
import { kubeconfigFromFile, kubeconfigFromText, kubeconfigInCluster } from "../../../src/core/kube/kubeconfig.js";
import { toYaml } from "../../../src/core/yaml.js";
import { startHarness, type Harness, type LocalControlPlane } from "../../../src/provision/local/harness.js";

// Tokens the apiserver accepts (--token-auth-file): the exec plugin hands them out in turn.
const EXEC_TOKENS = ["exec-token-1", "exec-token-2", "exec-token-3", "exec-token-4", "exec-token-5", "exec-token-6"];
const tmp = mkdtempSync(join(tmpdir(), "flotilla-credentials-"));

describe("credentials from a kubeconfig, on a real kube-apiserver with --token-auth-file", () => {
  let harness: Harness;
  let cp: LocalControlPlane;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = join(tmp, "harness");
    harness = await startHarness({
      profile: "apiserver",
      clusters: ["creds"],
      dataDir,
      tokens: [
        ...EXEC_TOKENS.map((token, i) => ({ token, user: `exec-${i + 1}`, groups: ["system:masters"] })),
        { token: "sa-token-old", user: "sa-old", groups: ["system:masters"] },
        // The rotated token's user may not list Secrets, so a 403 naming it proves it was sent.
        { token: "sa-token-new", user: "sa-new" },
        { token: "file-token", user: "file-user", groups: ["system:masters"] },
      ],
    });
    cp = harness.clusters[0]!;
  });
  afterAll(async () => {
    await harness?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  /** A kubeconfig whose user runs `script` as its exec credential plugin. */
  function execKubeconfig(script: string): string {
    return toYaml({
      apiVersion: "v1",
      kind: "Config",
      clusters: [
        {
          name: "creds",
          cluster: { server: cp.server, "certificate-authority-data": Buffer.from(cp.caCert).toString("base64") },
        },
      ],
      users: [
        {
          name: "exec-user",
          user: {
            exec: {
              apiVersion: "client.authentication.k8s.io/v1",
              command: script,
              interactiveMode: "Never",
              env: [{ name: "PLUGIN_DIR", value: join(script, "..") }],
            },
          },
        },
      ],
      contexts: [{ name: "creds", context: { cluster: "creds", user: "exec-user" } }],
      "current-context": "creds",
    });
  }

  /**
   * An executable that prints an ExecCredential with the next token of `tokens` (one per run,
   * recorded in `runs`, so the test counts its invocations), expiring at the time in its `expires`
   * file (one hour from now unless the test, which holds the client's clock, writes another).
   */
  function plugin(
    name: string,
    tokens: string[],
    opts: { fail?: string } = {},
  ): { script: string; runs: () => number; expireAt: (ms: number) => void } {
    const dir = join(tmp, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "tokens"), `${tokens.join("\n")}\n`);
    writeFileSync(join(dir, "runs"), "");
    const expireAt = (ms: number) => writeFileSync(join(dir, "expires"), new Date(ms).toISOString());
    expireAt(Date.now() + 3600_000);
    const script = join(dir, "plugin.sh");
    const body = opts.fail
      ? `echo '{"status":{"token":"${tokens[0]}"}}'\necho '${opts.fail}' >&2\nexit 3\n`
      : `test "$(echo "$KUBERNETES_EXEC_INFO" | grep -c '"interactive":false')" = 1 || { echo 'no KUBERNETES_EXEC_INFO' >&2; exit 9; }
echo run >> "$PLUGIN_DIR/runs"
n=$(wc -l < "$PLUGIN_DIR/runs")
token=$(sed -n "\${n}p" "$PLUGIN_DIR/tokens")
expires=$(cat "$PLUGIN_DIR/expires")
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"%s"}}\\n' "$token" "$expires"
`;
    writeFileSync(script, `#!/bin/sh\n${body}`);
    chmodSync(script, 0o755);
    return { script, expireAt, runs: () => readFileSync(join(dir, "runs"), "utf8").split("\n").filter(Boolean).length };
  }

  const namespaces = (c: ClusterClient) =>
    c.request<{ items: unknown[] }>("GET", "/api/v1/namespaces", undefined, { count: "list" });

  it("an exec plugin's token is cached between requests and the plugin runs again once it expires", async () => {
    const { script, runs, expireAt } = plugin("expiry", EXEC_TOKENS);
    let now = Date.now();
    const client = ClusterClient.fromKubeconfig(
      kubeconfigFromText(execKubeconfig(script), { kind: "file", file: join(tmp, "expiry.yaml") }),
      { now: () => now },
    );
    try {
      for (let i = 0; i < 5; i++) expect((await namespaces(client)).status).toBe(200);
      expect(runs()).toBe(1);
      // Past the credential's expirationTimestamp (one hour): the next request runs the plugin again.
      now += 2 * 3600_000;
      expireAt(now + 3600_000);
      expect((await namespaces(client)).status).toBe(200);
      expect(runs()).toBe(2);
      expect((await namespaces(client)).status).toBe(200);
      expect(runs()).toBe(2);
      expect(client.reauthentications).toBe(0);
    } finally {
      client.close();
    }
  });

  it("a token the server refuses (401) runs the plugin once more and the request succeeds with the new token", async () => {
    const { script, runs } = plugin("refused", ["unknown-token", ...EXEC_TOKENS]);
    const client = ClusterClient.fromKubeconfig(
      kubeconfigFromText(execKubeconfig(script), { kind: "file", file: join(tmp, "refused.yaml") }),
    );
    try {
      expect((await namespaces(client)).status).toBe(200);
      expect(runs()).toBe(2);
      expect(client.reauthentications).toBe(1);
      expect((await namespaces(client)).status).toBe(200);
      expect(runs()).toBe(2);
    } finally {
      client.close();
    }
  });

  it("a plugin whose tokens are all refused is run once after the 401, not in a loop, and the error names the kubeconfig user", async () => {
    const { script, runs } = plugin("all-refused", ["bad-1", "bad-2", "bad-3", "bad-4"]);
    const client = ClusterClient.fromKubeconfig(
      kubeconfigFromText(execKubeconfig(script), { kind: "file", file: join(tmp, "all-refused.yaml") }),
    );
    try {
      const message = describeError(await namespaces(client).catch((e: unknown) => e));
      expect(message).toMatch(/user 'exec-user'.*Unauthorized/);
      expect(message).not.toMatch(/bad-\d/);
      expect(runs()).toBe(2);
    } finally {
      client.close();
    }
  });

  it("a failing plugin gives an error naming the user, the command and its stderr, never the token it printed", async () => {
    const { script } = plugin("failing", ["leaked-token-value"], {
      fail: "token service unavailable: try again later",
    });
    const client = ClusterClient.fromKubeconfig(
      kubeconfigFromText(execKubeconfig(script), { kind: "file", file: join(tmp, "failing.yaml") }),
    );
    try {
      const message = describeError(await namespaces(client).catch((e: unknown) => e));
      expect(message).toContain("user 'exec-user'");
      expect(message).toContain(script);
      expect(message).toContain("token service unavailable: try again later");
      expect(message).not.toContain("leaked-token-value");
    } finally {
      client.close();
    }
  });

  it("in cluster: a service-account token file replaced on disk is used for the next requests, without a restart", async () => {
    const dir = join(tmp, "serviceaccount");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "ca.crt"), cp.caCert);
    writeFileSync(join(dir, "token"), "sa-token-old");
    const port = new URL(cp.server).port;
    let now = Date.now();
    const client = ClusterClient.connect(
      kubeconfigInCluster({
        serviceAccountDir: dir,
        env: { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: port },
      }),
      { now: () => now },
    );
    const secrets = () =>
      client.request("GET", "/api/v1/namespaces/default/secrets").then(
        () => "allowed",
        (e: unknown) => describeError(e),
      );
    try {
      expect(await secrets()).toBe("allowed");
      // The kubelet rotates the projected token: the file now holds another user's token.
      writeFileSync(join(dir, "token"), "sa-token-new");
      now += 61_000;
      // sa-new may not list Secrets: the 403 names the user whose token went out.
      expect(await secrets()).toMatch(/User "sa-new" cannot list resource "secrets"/);
    } finally {
      client.close();
    }
  });

  it("in cluster: after a 401 the token file is read again at once, not a minute later", async () => {
    const dir = join(tmp, "serviceaccount-401");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "ca.crt"), cp.caCert);
    writeFileSync(join(dir, "token"), "expired-token");
    const port = new URL(cp.server).port;
    const client = ClusterClient.connect(
      kubeconfigInCluster({
        serviceAccountDir: dir,
        env: { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: port },
      }),
    );
    try {
      // Same file, same refused token: no second try.
      expect(describeError(await namespaces(client).catch((e: unknown) => e))).toMatch(
        /in-cluster service account \(user 'service-account'\).*Unauthorized/,
      );
      expect(client.reauthentications).toBe(0);
      writeFileSync(join(dir, "token"), "sa-token-old");
      expect((await namespaces(client)).status).toBe(200);
      expect(client.reauthentications).toBe(1);
    } finally {
      client.close();
    }
  });

  it("file paths work from a kubeconfig file: certificate-authority, client-certificate, client-key and tokenFile", async () => {
    const pki = join(dataDir, "clusters", "creds", "pki");
    const dir = join(tmp, "files");
    mkdirSync(dir, { recursive: true });
    // A client certificate signed by the cluster's CA (user cert-user in system:masters).
    execFileSync(
      "openssl",
      [
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        join(dir, "client.key"),
        "-out",
        join(dir, "client.csr"),
        "-subj",
        "/O=system:masters/CN=cert-user",
      ],
      { stdio: "ignore" },
    );
    execFileSync(
      "openssl",
      [
        "x509",
        "-req",
        "-in",
        join(dir, "client.csr"),
        "-CA",
        join(pki, "ca.crt"),
        "-CAkey",
        join(pki, "ca.key"),
        "-CAcreateserial",
        "-out",
        join(dir, "client.crt"),
        "-days",
        "1",
      ],
      { stdio: "ignore" },
    );
    writeFileSync(join(dir, "ca.crt"), cp.caCert);
    writeFileSync(join(dir, "token"), "file-token");
    const write = (name: string, user: Record<string, unknown>) => {
      const path = join(dir, name);
      writeFileSync(
        path,
        toYaml({
          apiVersion: "v1",
          kind: "Config",
          clusters: [{ name: "c", cluster: { server: cp.server, "certificate-authority": "ca.crt" } }],
          users: [{ name: "u", user }],
          contexts: [{ name: "c", context: { cluster: "c", user: "u" } }],
          "current-context": "c",
        }),
      );
      return path;
    };
    const certs = ClusterClient.connect(
      kubeconfigFromFile(write("certs.yaml", { "client-certificate": "client.crt", "client-key": "client.key" })),
    );
    const token = ClusterClient.connect(kubeconfigFromFile(write("token.yaml", { tokenFile: "token" })));
    try {
      expect((await namespaces(certs)).status).toBe(200);
      expect((await namespaces(token)).status).toBe(200);
      // The same kubeconfig as a Secret's: refused before any request.
      expect(() => ClusterClient.fromSecret(readFileSync(join(dir, "certs.yaml"), "utf8"), "w/w-kubeconfig")).toThrow(
        /certificate-authority/,
      );
    } finally {
      certs.close();
      token.close();
    }
  });
});
