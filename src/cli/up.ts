import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { parse, stringify } from "yaml";
import { applyUnit } from "../apply/apply.js";
import { ClusterClient } from "../apply/client.js";
import { FleetLoop, type UnitState } from "../controller/fleet-loop.js";
import { describeError, InvalidInputError } from "../core/errors.js";
import { DiskTree } from "../core/file-tree.js";
import { createLogger } from "../core/log.js";
import { groupOf, versionOf } from "../core/object.js";
import { readLayout } from "../plan/layout.js";
import { startHarness } from "../provision/local/harness.js";
import { LocalProvider } from "../provision/local/provider.js";
import { standInCrds } from "../provision/local/stand-in-crds.js";
import { render } from "../render/index.js";
import { GitSource, highestTag, LocalRepository } from "../source/index.js";
import { formatTable } from "../status/table.js";

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
 * and the reconcile loop that applies every unit from git. Ctrl-C or SIGTERM tears it all down.
 */
export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { repo: { type: "string" }, "kubeconfig-out": { type: "string" }, once: { type: "boolean" }, timeout: { type: "string" }, "no-stand-in": { type: "boolean" } } });
  const repoDir = resolve(values.repo ?? (existsSync(join(process.cwd(), "providers")) ? process.cwd() : PROJECT_ROOT));
  if (!existsSync(join(repoDir, ".git"))) throw new InvalidInputError(`'${repoDir}' is not a git repository; flotilla up follows its commits`, { field: "--repo" });
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

    const tree = new DiskTree(repoDir);
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

    const { main, release, note } = await sources(repoDir);
    if (note) process.stderr.write(`${note}\n`);
    cleanup.push(async () => {
      if (release.tmp) rmSync(release.tmp, { recursive: true, force: true });
    });
    let lastTable = "";
    const loop = new FleetLoop({
      mgmt,
      main,
      release: release.source,
      repoUrl: `file://${repoDir}`,
      logger,
      onPass: (states) => {
        const table = formatTable(states.map(row), ["namespace", "name", "cluster", "ready", "status"]);
        if (table !== lastTable) {
          lastTable = table;
          process.stdout.write(`\n${table}`);
        }
      },
    });

    const waitClusters = async () => {
      const clusters = mgmtObjects.filter((o) => o.kind === "Cluster").length;
      const deadline = Date.now() + 5 * 60_000;
      while (harness.clusters.length - 1 < clusters && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
    };
    await step("applying the management unit and provisioning the workload clusters", async () => {
      await loop.reconcileOnce();
      await waitClusters();
    });
    writeKubeconfig(kubeconfigOut, [mgmtPlane, ...harness.clusters.filter((c) => c.name !== "mgmt")]);
    process.stderr.write(`kubeconfig with contexts ${harness.clusters.map((c) => c.name).join(", ")}: ${kubeconfigOut}\n  kubectl --kubeconfig ${kubeconfigOut} --context mgmt get clusters -A\n`);

    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const states = await loop.reconcileOnce().catch((error: unknown) => {
        process.stderr.write(`reconcile pass failed: ${describeError(error)}\n`);
        return loop.unitStates();
      });
      const allReady = states.length > 0 && states.every((s) => s.ready === "True");
      if (values.once && allReady) {
        process.stderr.write(`all ${states.length} units ready after ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
        await shutdown();
        return 0;
      }
      if (values.once && Date.now() > deadline) {
        process.stderr.write(`not every unit became ready within ${values.timeout ?? "10m"}\n`);
        await shutdown();
        return 1;
      }
      await new Promise((r) => setTimeout(r, 3000));
    }
  } catch (error) {
    await shutdown();
    throw error;
  }
}

function row(s: UnitState) {
  return { namespace: s.namespace, name: s.name, cluster: s.cluster, ready: s.ready, status: s.message.length > 90 ? `${s.message.slice(0, 87)}...` : s.message };
}

/** main follows the repository's `main`; the release is its highest semver tag, or (none yet) a tagged snapshot of main. */
async function sources(repoDir: string): Promise<{ main: GitSource; release: { source: GitSource; tmp?: string }; note?: string }> {
  const local = LocalRepository.open(repoDir);
  const branch = (await local.refs()).some((r) => r.ref === "refs/heads/main") ? "main" : "master";
  const main = new GitSource({ url: repoDir, ref: { branch } });
  const tag = highestTag(await local.tags(), "*");
  if (tag) return { main, release: { source: new GitSource({ url: repoDir, ref: { semver: "*" } }) } };
  const tmp = mkdtempSync(join(tmpdir(), "flotilla-release-"));
  execFileSync("git", ["clone", "-q", "--no-hardlinks", repoDir, tmp], { stdio: "ignore" });
  execFileSync("git", ["-C", tmp, "tag", "v0.1.0"], { stdio: "ignore" });
  return {
    main,
    release: { source: new GitSource({ url: tmp, ref: { tag: "v0.1.0" } }), tmp },
    note: `the repository has no release tag: prod follows a snapshot of ${branch} tagged v0.1.0 in ${tmp}`,
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
