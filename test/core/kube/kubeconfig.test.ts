import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { describeError } from "../../../src/core/errors.js";
import { ClusterClient } from "../../../src/core/kube/client.js";
import { defaultKubeconfig, kubeconfigFromFile, kubeconfigFromText } from "../../../src/core/kube/kubeconfig.js";
import { toYaml } from "../../../src/core/yaml.js";

const tmp = mkdtempSync(join(tmpdir(), "flotilla-kubeconfig-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Entry {
  context: string;
  server: string;
  user?: Record<string, unknown>;
  cluster?: Record<string, unknown>;
}

function kubeconfig(entries: Entry[], current?: string): string {
  return toYaml({
    apiVersion: "v1",
    kind: "Config",
    clusters: entries.map((e) => ({ name: e.context, cluster: { server: e.server, ...e.cluster } })),
    users: entries.map((e) => ({ name: `${e.context}-user`, user: e.user ?? { token: "t" } })),
    contexts: entries.map((e) => ({ name: e.context, context: { cluster: e.context, user: `${e.context}-user` } })),
    ...(current ? { "current-context": current } : {}),
  });
}

function file(name: string, text: string): string {
  const path = join(tmp, name);
  writeFileSync(path, text);
  return path;
}

describe("KUBECONFIG with several files merges as kubectl merges it", () => {
  it("current-context comes from the first file that sets it, and the first definition of a name wins", () => {
    const a = file("a", kubeconfig([{ context: "shared", server: "https://from-a:6443" }]));
    const b = file(
      "b",
      kubeconfig(
        [
          { context: "shared", server: "https://from-b:6443" },
          { context: "b-ctx", server: "https://b:6443" },
        ],
        "b-ctx",
      ),
    );
    const c = file("c", kubeconfig([{ context: "c-ctx", server: "https://c:6443" }], "c-ctx"));
    const loaded = defaultKubeconfig({ env: { KUBECONFIG: [a, join(tmp, "missing"), b, c].join(":") }, home: tmp });
    expect(loaded.context.name).toBe("b-ctx");
    expect(loaded.cluster.server).toBe("https://b:6443");
    // 'shared' is defined by a and by b: a's wins (client-node's own merge would throw on the duplicate).
    expect(
      defaultKubeconfig({ env: { KUBECONFIG: [a, b, c].join(":") }, home: tmp, context: "shared" }).cluster.server,
    ).toBe("https://from-a:6443");
    // The order decides: c first gives c's context.
    expect(defaultKubeconfig({ env: { KUBECONFIG: [c, b].join(":") }, home: tmp }).context.name).toBe("c-ctx");
  });

  it("a list of files none of which exists is an error naming them", () => {
    expect(() => defaultKubeconfig({ env: { KUBECONFIG: join(tmp, "nope") }, home: tmp })).toThrow(
      /no kubeconfig: none of '.*nope' exists/,
    );
  });
});

describe("a kubeconfig Secret may not read files or run programs", () => {
  const secret = (user: Record<string, unknown>, cluster: Record<string, unknown> = {}) =>
    kubeconfig([{ context: "w1", server: "https://w1:6443", user, cluster }], "w1");
  const refusal = (text: string, allowExec = false) => {
    try {
      kubeconfigFromText(text, { kind: "secret", secret: "w1/w1-kubeconfig" }, { allowExec });
    } catch (error) {
      return describeError(error);
    }
    return "accepted";
  };

  it.each([
    ["certificate-authority", {}, { "certificate-authority": "/etc/ssl/ca.crt" }],
    ["client-certificate", { "client-certificate": "/var/run/secrets/cert", "client-key-data": "eA==" }, {}],
    ["client-key", { "client-key": "/var/run/secrets/key", "client-certificate-data": "eA==" }, {}],
    ["tokenFile", { tokenFile: "/var/run/secrets/kubernetes.io/serviceaccount/token" }, {}],
  ])("%s is refused, naming the Secret and the field", (field, user, cluster) => {
    const message = refusal(secret(user, cluster));
    expect(message).toContain("Secret/w1/w1-kubeconfig");
    expect(message).toContain(`.${field}`);
    expect(message).toMatch(/must carry its data inline/);
  });

  it("an exec plugin is refused unless --allow-exec-kubeconfigs, and then accepted", () => {
    const text = secret({
      exec: {
        apiVersion: "client.authentication.k8s.io/v1",
        command: "aws",
        args: ["eks", "get-token"],
        interactiveMode: "Never",
      },
    });
    expect(refusal(text)).toMatch(
      /user 'w1-user' runs a credential plugin \('aws'\); running a program named by a Secret is refused unless the controller is started with --allow-exec-kubeconfigs/,
    );
    expect(refusal(text, true)).toBe("accepted");
  });

  it("a target cluster client refuses such a Secret before any request", () => {
    const text = secret({ exec: { apiVersion: "client.authentication.k8s.io/v1", command: "/bin/true" } });
    expect(() => ClusterClient.fromSecret(text, "w1/w1-kubeconfig")).toThrow(/--allow-exec-kubeconfigs/);
  });

  it("inline data is accepted", () => {
    expect(refusal(secret({ token: "abc" }, { "certificate-authority-data": "eA==" }))).toBe("accepted");
  });
});

describe("a kubeconfig file may name files, relative to its own folder", () => {
  it("certificate-authority, client-certificate, client-key and tokenFile resolve against the file's folder", () => {
    const path = file(
      "relative",
      kubeconfig(
        [
          {
            context: "r",
            server: "https://r:6443",
            user: { "client-certificate": "pki/c.crt", "client-key": "pki/c.key", tokenFile: "tok" },
            cluster: { "certificate-authority": "pki/ca.crt" },
          },
        ],
        "r",
      ),
    );
    const loaded = kubeconfigFromFile(path);
    expect(loaded.cluster.caFile).toBe(join(tmp, "pki/ca.crt"));
    expect(loaded.user.certFile).toBe(join(tmp, "pki/c.crt"));
    expect(loaded.user.keyFile).toBe(join(tmp, "pki/c.key"));
    expect(loaded.rawUser.tokenFile).toBe(join(tmp, "tok"));
  });

  it("a malformed kubeconfig names the file", () => {
    const path = file("bad", "clusters: {not: a list}\n");
    expect(() => kubeconfigFromFile(path)).toThrow(/'clusters' must be a list of maps/);
  });
});
