import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "pino";
import { TimeoutError } from "../../core/errors.js";
import { silentLogger } from "../../core/log.js";
import { findBinaries, type Binaries } from "./binaries.js";
import { generatePki, kubeconfigFor, type ControlPlanePki } from "./certificates.js";
import { freePorts, spawnOwned, stopProcess } from "./processes.js";
import { SimulatedKubelet, type SimulatedKubeletOptions } from "./simulated-kubelet.js";

/** One running local control plane. */
export interface LocalControlPlane {
  name: string;
  /** `https://127.0.0.1:PORT` */
  server: string;
  /** Admin kubeconfig (YAML); its context is `name`. */
  kubeconfig: string;
  token: string;
  caCert: string;
  /** The apiserver's pid, so tests can kill it. */
  apiserverPid(): number | undefined;
  /** Pids of this cluster's own processes (etcd is shared), for measurements. */
  pids(): { apiserver?: number; controllerManager?: number; scheduler?: number };
  /** The simulated kubelet of a `full` cluster. */
  kubelet?: SimulatedKubelet;
  /** Whether the apiserver process is running. */
  alive(): boolean;
  /** Restarts the apiserver (same port, certificates and etcd data). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export type Profile = "apiserver" | "full";

export interface Harness {
  etcdEndpoint: string;
  clusters: LocalControlPlane[];
  add(name: string): Promise<LocalControlPlane>;
  remove(name: string): Promise<void>;
  get(name: string): LocalControlPlane | undefined;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  profile: Profile;
  clusters?: string[];
  /** Where etcd data, certificates and logs live; a temporary folder by default (removed on stop). Kept when given, so clusters survive a restart. */
  dataDir?: string;
  logger?: Logger;
  /** Options of each `full` cluster's simulated kubelet (nodes, delays, crash-loop image). */
  simulatedKubelet?: SimulatedKubeletOptions;
  /** More bearer tokens each apiserver accepts (its `--token-auth-file`), beside the admin's: tests of credential sources. */
  tokens?: StaticToken[];
  /** More kube-apiserver flags for a cluster (e.g. `--audit-log-path`, `--audit-policy-file`), after Flotilla's own. */
  apiserverFlags?: (cluster: string) => string[];
}

/** A line of kube-apiserver's `--token-auth-file`. */
export interface StaticToken {
  token: string;
  user: string;
  groups?: string[];
}

/**
 * Real Kubernetes control planes on this machine: one etcd, and per cluster a kube-apiserver with
 * its own etcd prefix, certificates and admin token on a free loopback port; in the `full`
 * profile also kube-controller-manager, kube-scheduler and a simulated kubelet (Ready Nodes whose
 * Pods run without containers). Every process dies with this one.
 */
export async function startHarness(options: HarnessOptions): Promise<Harness> {
  const log = options.logger ?? silentLogger;
  const binaries = await findBinaries();
  if (options.profile === "full" && (!binaries.controllerManager || !binaries.scheduler)) {
    throw new TimeoutError(
      `the full profile needs kube-controller-manager and kube-scheduler beside kube-apiserver in ${binaries.dir}`,
      {
        field: "KUBEBUILDER_ASSETS",
      },
    );
  }
  const owned = !options.dataDir;
  const dataDir =
    options.dataDir ?? mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "flotilla-harness-"));
  mkdirSync(dataDir, { recursive: true });
  const etcd = await startEtcd(binaries, dataDir, log);
  const clusters = new Map<string, LocalControlPlane>();
  const harness: Harness = {
    etcdEndpoint: etcd.endpoint,
    get clusters() {
      return [...clusters.values()];
    },
    async add(name) {
      const existing = clusters.get(name);
      if (existing) return existing;
      const cp = await startControlPlane(
        name,
        options.profile,
        binaries,
        etcd.endpoint,
        join(dataDir, "clusters", name),
        log,
        options.simulatedKubelet,
        options.tokens,
        options.apiserverFlags?.(name) ?? [],
      );
      clusters.set(name, cp);
      return cp;
    },
    async remove(name) {
      const cp = clusters.get(name);
      if (!cp) return;
      clusters.delete(name);
      await cp.stop();
    },
    get: (name) => clusters.get(name),
    async stop() {
      await Promise.all([...clusters.values()].map((c) => c.stop()));
      clusters.clear();
      await stopProcess(etcd.process);
      if (owned) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  try {
    await Promise.all((options.clusters ?? []).map((n) => harness.add(n)));
  } catch (error) {
    await harness.stop();
    throw error;
  }
  return harness;
}

async function startEtcd(
  binaries: Binaries,
  dataDir: string,
  log: Logger,
): Promise<{ endpoint: string; process: ChildProcess }> {
  // Free ports are picked, then bound by etcd: another process may take one in between, so a
  // start that dies is retried on fresh ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startEtcdOnce(binaries, dataDir, log);
    } catch (error) {
      if (attempt >= 3 || !(error instanceof TimeoutError) || !/exited/.test(error.message)) throw error;
      log.warn({ attempt, err: error.message }, "etcd exited while starting; retrying on other ports");
    }
  }
}

async function startEtcdOnce(
  binaries: Binaries,
  dataDir: string,
  log: Logger,
): Promise<{ endpoint: string; process: ChildProcess }> {
  const [client, peer] = await freePorts(2);
  const endpoint = `http://127.0.0.1:${client}`;
  const logFile = join(dataDir, "etcd.log");
  const child = spawnOwned(
    binaries.etcd,
    [
      "--name=flotilla",
      `--data-dir=${join(dataDir, "etcd")}`,
      `--listen-client-urls=${endpoint}`,
      `--advertise-client-urls=${endpoint}`,
      `--listen-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-cluster=flotilla=http://127.0.0.1:${peer}`,
      "--quota-backend-bytes=8589934592",
      "--snapshot-count=50000",
      "--log-level=warn",
    ],
    logFile,
  );
  await waitFor(
    async () =>
      (await fetch(`${endpoint}/health`)
        .then((r) => r.ok)
        .catch(() => false)) || undefined,
    30_000,
    "etcd to become healthy",
    () => child.exitCode !== null,
    logFile,
  );
  log.debug({ endpoint }, "etcd ready");
  return { endpoint, process: child };
}

/** Where a control plane's apiserver listens, and the admin kubeconfig that points there; moving it rewrites both files. */
interface ApiEndpoint {
  port: number;
  server: string;
  kubeconfig: string;
  kubeconfigPath: string;
  /** Moves to `port`, saving it (state.json) and rewriting the kubeconfig. */
  use(port: number): void;
}

/** The kube-apiserver of one control plane: its process, and how to start it again on the endpoint's current port. */
interface Apiserver {
  process: ChildProcess;
  /** Starts the process again (after a stop, or on a new port). */
  spawn(): void;
  /** Resolves when /readyz passes and the `default` namespace exists; rejects when the process dies first. */
  ready(): Promise<unknown>;
}

/**
 * One local control plane: certificates and saved port reused from `dir` when a previous run left
 * them, the apiserver (moved to a fresh port if another process took its own), and for the `full`
 * profile controller-manager, scheduler and the simulated kubelet.
 */
async function startControlPlane(
  name: string,
  profile: Profile,
  binaries: Binaries,
  etcd: string,
  dir: string,
  log: Logger,
  kubeletOptions?: SimulatedKubeletOptions,
  tokens: StaticToken[] = [],
  extraFlags: string[] = [],
): Promise<LocalControlPlane> {
  mkdirSync(dir, { recursive: true });
  const saved = join(dir, "state.json");
  const state = existsSync(saved)
    ? (JSON.parse(readFileSync(saved, "utf8")) as { port: number; token: string })
    : undefined;
  const pki =
    state && existsSync(join(dir, "pki", "ca.crt"))
      ? savedPki(join(dir, "pki"), state.token)
      : generatePki(join(dir, "pki"), name);
  writeTokenFile(pki, tokens);
  const endpoint = apiEndpoint(name, dir, pki, state?.port ?? (await freePorts(1))[0]!);
  const apiserver = await startApiserver(name, profile, binaries, etcd, dir, pki, endpoint, log, extraFlags);
  const others = profile === "full" ? startControllers(binaries, dir, pki, endpoint.kubeconfigPath) : [];
  let kubelet: SimulatedKubelet | undefined;
  if (profile === "full") {
    kubelet = new SimulatedKubelet(endpoint.kubeconfig, { logger: log.child({ cluster: name }), ...kubeletOptions });
    try {
      await kubelet.start();
    } catch (error) {
      await Promise.all([kubelet.stop(), stopProcess(apiserver.process), ...others.map((o) => stopProcess(o))]);
      throw error;
    }
  }
  log.info({ cluster: name, server: endpoint.server, profile }, "control plane ready");
  return {
    name,
    get server() {
      return endpoint.server;
    },
    get kubeconfig() {
      return endpoint.kubeconfig;
    },
    token: pki.adminToken,
    caCert: pki.caCert,
    apiserverPid: () => apiserver.process.pid,
    pids: () => ({ apiserver: apiserver.process.pid, controllerManager: others[0]?.pid, scheduler: others[1]?.pid }),
    ...(kubelet ? { kubelet } : {}),
    alive: () => apiserver.process.exitCode === null && apiserver.process.signalCode === null,
    async restart() {
      await stopProcess(apiserver.process, 1000);
      apiserver.spawn();
      await apiserver.ready();
    },
    async stop() {
      await kubelet?.stop();
      await Promise.all([stopProcess(apiserver.process), ...others.map((o) => stopProcess(o))]);
    },
  };
}

/** The certificates and keys an earlier run generated in `dir`, with its admin token. */
function savedPki(dir: string, adminToken: string): ControlPlanePki {
  return {
    dir,
    caCert: readFileSync(join(dir, "ca.crt"), "utf8"),
    caKey: join(dir, "ca.key"),
    servingCert: join(dir, "serving.crt"),
    servingKey: join(dir, "serving.key"),
    serviceAccountKey: join(dir, "sa.key"),
    serviceAccountPub: join(dir, "sa.pub"),
    tokenFile: join(dir, "tokens.csv"),
    adminToken,
  };
}

/** kube-apiserver's `--token-auth-file`: the admin (system:masters), then the extra tokens. */
function writeTokenFile(pki: ControlPlanePki, tokens: readonly StaticToken[]): void {
  const extra = tokens
    .map((t) => `${t.token},${t.user},${t.user}${t.groups?.length ? `,"${t.groups.join(",")}"` : ""}\n`)
    .join("");
  writeFileSync(pki.tokenFile, `${pki.adminToken},flotilla-admin,flotilla-admin,"system:masters"\n${extra}`, {
    mode: 0o600,
  });
}

function apiEndpoint(name: string, dir: string, pki: ControlPlanePki, port: number): ApiEndpoint {
  const endpoint: ApiEndpoint = {
    port,
    server: "",
    kubeconfig: "",
    kubeconfigPath: join(dir, "kubeconfig"),
    use(p) {
      endpoint.port = p;
      writeFileSync(join(dir, "state.json"), JSON.stringify({ port: p, token: pki.adminToken }));
      endpoint.server = `https://127.0.0.1:${p}`;
      endpoint.kubeconfig = kubeconfigFor(name, endpoint.server, pki.caCert, pki.adminToken);
      writeFileSync(endpoint.kubeconfigPath, endpoint.kubeconfig, { mode: 0o600 });
    },
  };
  endpoint.use(port);
  return endpoint;
}

function apiserverArgs(
  name: string,
  profile: Profile,
  etcd: string,
  dir: string,
  pki: ControlPlanePki,
  port: number,
  extraFlags: readonly string[],
): string[] {
  return [
    `--etcd-servers=${etcd}`,
    `--etcd-prefix=/clusters/${name}`,
    `--secure-port=${port}`,
    "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1",
    "--insecure-port=0",
    `--cert-dir=${join(dir, "pki")}`,
    `--tls-cert-file=${pki.servingCert}`,
    `--tls-private-key-file=${pki.servingKey}`,
    `--client-ca-file=${join(pki.dir, "ca.crt")}`,
    `--token-auth-file=${pki.tokenFile}`,
    `--service-account-key-file=${pki.serviceAccountPub}`,
    `--service-account-signing-key-file=${pki.serviceAccountKey}`,
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    "--authorization-mode=RBAC",
    "--service-cluster-ip-range=10.0.0.0/16",
    "--allow-privileged=true",
    "--enable-priority-and-fairness=false",
    "--profiling=false",
    "--watch-cache=true",
    "--max-requests-inflight=1000",
    "--max-mutating-requests-inflight=500",
    ...(profile === "apiserver" ? ["--disable-admission-plugins=ServiceAccount"] : []),
    ...extraFlags,
  ];
}

/**
 * Starts the apiserver and waits until it is ready. The port was free when picked (or saved by an
 * earlier run); if another process took it meanwhile, the cluster moves to a fresh port (up to
 * three tries) and its kubeconfig follows.
 */
async function startApiserver(
  name: string,
  profile: Profile,
  binaries: Binaries,
  etcd: string,
  dir: string,
  pki: ControlPlanePki,
  endpoint: ApiEndpoint,
  log: Logger,
  extraFlags: readonly string[] = [],
): Promise<Apiserver> {
  const logFile = join(dir, "apiserver.log");
  const apiserver: Apiserver = {
    process: spawnOwned(
      binaries.apiserver,
      apiserverArgs(name, profile, etcd, dir, pki, endpoint.port, extraFlags),
      logFile,
    ),
    spawn() {
      apiserver.process = spawnOwned(
        binaries.apiserver,
        apiserverArgs(name, profile, etcd, dir, pki, endpoint.port, extraFlags),
        logFile,
      );
    },
    // /readyz can pass before the apiserver's bootstrap controller has created the `default`
    // namespace, and a first write there would get 404: ready means both.
    ready: () =>
      waitFor(
        async () =>
          (await probe(`${endpoint.server}/readyz`, pki)) === 200 &&
          (await probe(`${endpoint.server}/api/v1/namespaces/default`, pki)) === 200
            ? true
            : undefined,
        60_000,
        `kube-apiserver of '${name}' to become ready`,
        () => apiserver.process.exitCode !== null,
        logFile,
      ),
  };
  for (let attempt = 1; ; attempt++) {
    try {
      await apiserver.ready();
      return apiserver;
    } catch (error) {
      const portTaken = /address already in use/.test(readFileSync(logFile, "utf8").slice(-4000));
      if (attempt >= 3 || !portTaken) throw error;
      log.warn({ cluster: name, port: endpoint.port }, "apiserver port taken; moving to another");
      endpoint.use((await freePorts(1))[0]!);
      apiserver.spawn();
    }
  }
}

/** controller-manager and scheduler of a `full` control plane, both on the admin kubeconfig. */
function startControllers(
  binaries: Binaries,
  dir: string,
  pki: ControlPlanePki,
  kubeconfigPath: string,
): ChildProcess[] {
  return [
    spawnOwned(
      binaries.controllerManager!,
      [
        `--kubeconfig=${kubeconfigPath}`,
        `--authentication-kubeconfig=${kubeconfigPath}`,
        `--authorization-kubeconfig=${kubeconfigPath}`,
        `--service-account-private-key-file=${pki.serviceAccountKey}`,
        `--root-ca-file=${join(pki.dir, "ca.crt")}`,
        "--controllers=*,-csrsigning,-csrapproving,-nodeipam,-persistentvolume-binder,-attachdetach,-ttl",
        "--leader-elect=false",
        "--port=0",
        "--secure-port=0",
        "--use-service-account-credentials=false",
        "--concurrent-deployment-syncs=10",
        "--concurrent-replicaset-syncs=10",
        "--concurrent-namespace-syncs=5",
      ],
      join(dir, "controller-manager.log"),
    ),
    spawnOwned(
      binaries.scheduler!,
      [
        `--kubeconfig=${kubeconfigPath}`,
        `--authentication-kubeconfig=${kubeconfigPath}`,
        `--authorization-kubeconfig=${kubeconfigPath}`,
        "--leader-elect=false",
        "--port=0",
        "--secure-port=0",
      ],
      join(dir, "scheduler.log"),
    ),
  ];
}

function probe(url: string, pki: ControlPlanePki): Promise<number> {
  return new Promise((resolve) => {
    const req = https.get(
      url,
      { ca: pki.caCert, headers: { Authorization: `Bearer ${pki.adminToken}` }, timeout: 2000 },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("error", () => resolve(0));
    req.on("timeout", () => req.destroy());
  });
}

async function waitFor<T>(
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  what: string,
  died: () => boolean,
  logFile?: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (died()) {
      const tail =
        logFile && existsSync(logFile) ? readFileSync(logFile, "utf8").trim().split("\n").slice(-5).join("\n") : "";
      throw new TimeoutError(`the process exited while waiting for ${what}${tail ? `:\n${tail}` : ""}`);
    }
    if (Date.now() > deadline) throw new TimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
