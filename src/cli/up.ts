import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { parse, stringify } from "yaml";
import { applyUnit } from "../apply/apply.js";
import { ClusterClient } from "../apply/client.js";
import { Controller } from "../controller/controller.js";
import { FleetPlanner } from "../controller/fleet-planner.js";
import { InvalidInputError } from "../core/errors.js";
import { DiskTree } from "../core/file-tree.js";
import { createLogger } from "../core/log.js";
import { groupOf, versionOf } from "../core/object.js";
import { readLayout } from "../plan/layout.js";
import { startHarness } from "../provision/local/harness.js";
import { LocalProvider } from "../provision/local/provider.js";
import { standInCrds } from "../provision/local/stand-in-crds.js";
import { render } from "../render/index.js";
import { startGitHttpServer } from "../source/git-http-server.js";
import { GitSource, sanitizeUrl } from "../source/index.js";
import { LocalMirror } from "../source/local-mirror.js";
import { formatTable, unitRows } from "../status/table.js";

/** The project's root (where deploy/ and the example repository live), from src/ or dist/src/. */
const PROJECT_ROOT = (() => {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, "package.json")) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
})();

/**
 * `flotilla up [--repo DIR] [--kubeconfig-out FILE] [--once] [--timeout 10m]`: the whole product on
 * one machine — a local management cluster, the Flux-API and Cluster API CRDs, the repository's
 * `mgmt` objects, the local provider (stand-in mode: cloud Clusters get local control planes too),
 * the repository served over smart HTTP, and the controller that reconciles every unit from git. Ctrl-C or SIGTERM tears it all down.
 */
export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { repo: { type: "string" }, "kubeconfig-out": { type: "string" }, once: { type: "boolean" }, timeout: { type: "string" }, "no-stand-in": { type: "boolean" } } });
  const repoArg = values.repo ?? (existsSync(join(process.cwd(), "providers")) ? process.cwd() : PROJECT_ROOT);
  const remote = /^(https?|ssh):\/\//.test(repoArg) || /^[^/@]+@[^:]+:/.test(repoArg);
  const repo = remote ? repoArg : resolve(repoArg);
  if (!remote && !existsSync(join(repo, ".git"))) throw new InvalidInputError(`'${repo}' is not a git repository; flotilla up follows its commits`, { field: "--repo" });
  const kubeconfigOut = resolve(values["kubeconfig-out"] ?? join(process.cwd(), ".flotilla", "kubeconfig"));
  const timeoutMs = values.timeout ? Number.parseInt(values.timeout, 10) * (values.timeout.endsWith("m") ? 60_000 : 1000) : 10 * 60_000;
  const tty = process.stderr.isTTY;
  const logger = createLogger({ level: process.env.FLOTILLA_LOG_LEVEL ?? "warn" });
  const started = Date.now();
  const step = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    const t = Date.now();
    process.stderr.write(`${tty ? "▸ " : ""}${what}…`);
    const v = await fn();
    process.stderr.write(` done (${((Date.now() - t) / 1000).toFixed(1)} s)\n`);
    return v;
  };

  const cleanup: Array<() => Promise<void>> = [];
  let stopping = false;
  const shutdown = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    process.stderr.write("\nstopping: reconcile loop, provider, control planes…\n");
    for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
  };
  const onSignal = () => void shutdown().then(() => process.exit(0));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  cleanup.push(async () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  });

  try {
    const harness = await startHarness({ profile: "full", logger });
    cleanup.push(() => harness.stop());
    const mgmtPlane = await step("starting the local management cluster (etcd, kube-apiserver, controller-manager, scheduler)", () => harness.add("mgmt"));
    const mgmt = ClusterClient.fromKubeconfig(mgmtPlane.kubeconfig);

    const crds = render(new DiskTree(join(PROJECT_ROOT, "deploy")), "crds");
    await step("installing the Flux API and Cluster API CRDs", () => applyUnit(mgmt, { unit: { name: "flotilla-crds", namespace: "flux-system" }, objects: crds, prune: false, wait: true, timeoutMs: 60_000 }));

    const tree = remote ? (await new GitSource({ url: repo, ref: { branch: "main" } }, { logger }).poll()).artifact.tree : new DiskTree(repo);
    const mgmtObjects = readLayout(tree).providers.filter((p) => p.hasMgmt).flatMap((p) => render(tree, `${p.path}/mgmt`));
    if (!values["no-stand-in"]) {
      const discovery = await mgmt.discovery(true);
      const standIns = standInCrds(mgmtObjects, (apiVersion, kind) => discovery.has(`${groupOf(apiVersion)}/${versionOf(apiVersion)}/${kind}`));
      if (standIns.length > 0) {
        await step(`installing ${standIns.length} stand-in CRD(s) for cloud Cluster API kinds (${standIns.map((c) => (c.spec as { names: { kind: string } }).names.kind).join(", ")}) — stand-ins, not the real providers`, () =>
          applyUnit(mgmt, { unit: { name: "flotilla-stand-ins", namespace: "flux-system" }, objects: standIns, prune: false, wait: true, timeoutMs: 60_000 }),
        );
      }
    }

    const provider = new LocalProvider({ mgmt, harness, standIn: !values["no-stand-in"], logger });
    provider.start();
    cleanup.push(() => provider.stop());

    const served = await step("serving the repository over smart HTTP", () => serveRepository(repo));
    cleanup.push(served.stop);
    if (served.note) process.stderr.write(`${served.note}\n`);
    const rewritten = new Set<string>();
    const controller = new Controller({
      kubeconfig: mgmtPlane.kubeconfig,
      logger,
      sourceUrlOverride: (g) => {
        if (!served.local || isLoopback(g.spec.url)) return undefined;
        if (!rewritten.has(g.spec.url)) {
          rewritten.add(g.spec.url);
          process.stderr.write(`GitRepository ${g.metadata.namespace}/${g.metadata.name}: ${sanitizeUrl(g.spec.url)} is read from ${served.url} (a local run cannot reach the real remote)\n`);
        }
        return served.url;
      },
    });
    cleanup.push(async () => controller.stop());
    await controller.start();
    const planner = new FleetPlanner(controller, { repoUrl: served.url, logger });
    const mode = await step("bootstrapping the fleet from the repository", () => planner.bootstrap());
    process.stderr.write(`repository layout: ${mode === "flux" ? "Flux objects under mgmt (Flux-compatible mode)" : "convention mode (units planned from the layout)"}\n`);
    const unfollow = served.follow(() => controller.requestPollOfUrl(() => true));
    cleanup.push(async () => unfollow());

    const clustersWanted = mgmtObjects.filter((o) => o.kind === "Cluster").length;
    await step(`provisioning ${clustersWanted} workload cluster(s)`, async () => {
      const deadline = Date.now() + 5 * 60_000;
      while (harness.clusters.length - 1 < clustersWanted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
    });
    writeKubeconfig(kubeconfigOut, [mgmtPlane, ...harness.clusters.filter((c) => c.name !== "mgmt")]);
    process.stderr.write(`kubeconfig with contexts ${harness.clusters.map((c) => c.name).join(", ")}: ${kubeconfigOut}\n  kubectl --kubeconfig ${kubeconfigOut} --context mgmt get kustomizations -A\n`);

    const deadline = Date.now() + timeoutMs;
    let lastTable = "";
    let readySince: number | undefined;
    for (;;) {
      const units = controller.kustomizationList();
      const table = formatTable(
        unitRows(units, new Date()).map((r) => ({ ...r, status: r.status.length > 90 ? `${r.status.slice(0, 87)}...` : r.status })),
        ["namespace", "name", "cluster", "ready", "status"],
      );
      if (table !== lastTable) {
        lastTable = table;
        process.stdout.write(`\n${table}`);
      }
      const allReady = units.length > 0 && units.every((u) => u.status?.conditions?.find((c) => c.type === "Ready")?.status === "True");
      readySince = allReady ? (readySince ?? Date.now()) : undefined;
      if (values.once && readySince !== undefined && Date.now() - readySince >= 3_000) {
        process.stderr.write(`all ${units.length} units ready after ${((readySince - started) / 1000).toFixed(1)} s\n`);
        await shutdown();
        return 0;
      }
      if (values.once && Date.now() > deadline) {
        process.stderr.write(`not every unit became ready within ${values.timeout ?? "10m"}\n`);
        await shutdown();
        return 1;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  } catch (error) {
    await shutdown();
    throw error;
  }
}

const isLoopback = (url: string) => /^https?:\/\/(127\.0\.0\.1|localhost)(:\d+)?\//.test(url);

interface ServedRepository {
  url: string;
  /** Whether the repository is local (served by this process) rather than a remote URL. */
  local: boolean;
  note?: string;
  follow(onChange: () => void): () => void;
  stop(): Promise<void>;
}

/**
 * A local repository is mirrored and served over real smart HTTP, so the controller reads it as it
 * reads any remote; a commit on its branches reaches the mirror within a second. A URL is used as is.
 */
async function serveRepository(repo: string): Promise<ServedRepository> {
  if (/^(https?|ssh):\/\//.test(repo) || /^[^/@]+@[^:]+:/.test(repo)) {
    return { url: repo, local: false, follow: () => () => undefined, stop: async () => undefined };
  }
  const root = mkdtempSync(join(tmpdir(), "flotilla-served-"));
  const mirror = await LocalMirror.create(repo, root);
  const server = await startGitHttpServer(root);
  return {
    url: `${server.url}/platform.git`,
    local: true,
    ...(mirror.syntheticTag ? { note: `the repository has no release tag: prod follows ${mirror.syntheticTag}, a tag on the current main in the served mirror only (your repository is not changed)` } : {}),
    follow: (onChange) => mirror.follow(1000, onChange),
    stop: async () => {
      await server.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

function writeKubeconfig(path: string, planes: Array<{ name: string; kubeconfig: string }>): void {
  const docs = planes.map((p) => ({ name: p.name, doc: parseKubeconfig(p.kubeconfig) }));
  const merged = {
    apiVersion: "v1",
    kind: "Config",
    clusters: docs.flatMap((d) => d.doc.clusters ?? []),
    users: docs.flatMap((d) => d.doc.users ?? []),
    contexts: docs.flatMap((d) => d.doc.contexts ?? []),
    "current-context": "mgmt",
  };
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, stringify(merged), { mode: 0o600 });
}

function parseKubeconfig(text: string): { clusters?: unknown[]; users?: unknown[]; contexts?: unknown[] } {
  return (parse(text) ?? {}) as { clusters?: unknown[]; users?: unknown[]; contexts?: unknown[] };
}
