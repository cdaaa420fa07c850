import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Logger } from "pino";
import { applyUnit, ClusterClient } from "../apply/index.js";
import { Controller, FleetPlanner } from "../controller/index.js";
import { DiskTree, type FileTree } from "../core/file-tree.js";
import { clusterOfUnit } from "../core/flux.js";
import { silentLogger } from "../core/log.js";
import { groupOf, objectKey, versionOf } from "../core/object.js";
import { assertFleetLayout, readLayout, type Sources } from "../plan/index.js";
import { LocalProvider, standInCrds, startHarness, type Harness } from "../provision/index.js";
import { render } from "../render/index.js";
import { LocalMirror, pollDefaultBranch, sanitizeUrl, startGitHttpServer, WorkTree } from "../source/index.js";
import { readyCondition } from "../status/index.js";

/** The project's root (where deploy/ and the example repository live), from src/ or dist/src/. */
export const PROJECT_ROOT = (() => {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, "package.json")) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
})();

export const isRemoteRepository = (repo: string) => /^(https?|ssh):\/\//.test(repo) || /^[^/@]+@[^:]+:/.test(repo);

export interface LocalFleetOptions {
  /** A local work repository (followed: its new commits and tags roll out) or a remote URL. */
  repo: string;
  /** Whether cloud Cluster API kinds get stand-in CRDs and local control planes (default true). */
  standIn?: boolean;
  /** Whether the controller creates namespaces the repository's objects need and nothing creates (default true; see `--create-namespaces`). */
  createNamespaces?: boolean;
  logger?: Logger;
  /** Runs one long step of the start-up, so a CLI can show it; by default just runs it. */
  step?: <T>(what: string, fn: () => Promise<T>) => Promise<T>;
  /** Told what a reader should know: the served URL, rewritten GitRepository URLs, a synthetic tag. */
  notice?: (text: string) => void;
}

/** Everything `flotilla up` runs, started and ready to reconcile. */
export interface LocalFleet {
  harness: Harness;
  /** The management cluster's kubeconfig. */
  kubeconfig: string;
  controller: Controller;
  /** Where the controller reads the repository (the local mirror over smart HTTP, or the remote). */
  repoUrl: string;
  mode: Sources["mode"];
  /** How many Cluster objects the repository's `mgmt` paths hold. */
  clustersWanted: number;
  /** Resolves when the harness holds a control plane for every wanted cluster (or after `timeoutMs`). */
  provisioned(timeoutMs?: number): Promise<boolean>;
  /** How many workload clusters have control planes so far. */
  clustersReady(): number;
  /** The management cluster's units that are not Ready, with their Ready message: why clusters are not provisioned. */
  unreadyManagementUnits(): Array<{ unit: string; message: string }>;
  /** Stops the controller, the provider, the server and every control plane; idempotent. */
  stop(): Promise<void>;
}

/**
 * The whole product on one machine: a local management cluster with the Flux-API and Cluster API
 * CRDs, the local provider (stand-in mode: cloud Clusters get local control planes too), the
 * repository mirrored and served over real smart HTTP, and the controller reconciling every unit
 * from it. A commit or tag on the local repository reaches the mirror within a second and is
 * polled at once. When a step fails, what was already started is stopped before the error is thrown.
 */
export async function startLocalFleet(options: LocalFleetOptions): Promise<LocalFleet> {
  const logger = options.logger ?? silentLogger;
  const step = options.step ?? (<T>(_what: string, fn: () => Promise<T>) => fn());
  const notice = options.notice ?? (() => undefined);
  const standIn = options.standIn ?? true;
  const cleanup: Array<() => Promise<void>> = [];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
  };

  try {
    // A repository with nothing to plan is refused before anything starts.
    const tree: FileTree = isRemoteRepository(options.repo)
      ? (await pollDefaultBranch({ url: options.repo }, { logger })).artifact.tree
      : new WorkTree(options.repo);
    const layout = readLayout(tree);
    assertFleetLayout(tree, layout);
    const harness = await startHarness({ profile: "full", logger });
    cleanup.push(() => harness.stop());
    const mgmtPlane = await step(
      "starting the local management cluster (etcd, kube-apiserver, controller-manager, scheduler)",
      () => harness.add("mgmt"),
    );
    const mgmt = ClusterClient.fromKubeconfig(mgmtPlane.kubeconfig);
    cleanup.push(async () => mgmt.close());

    const crds = render(new DiskTree(join(PROJECT_ROOT, "deploy")), "crds");
    await step("installing the Flux API and Cluster API CRDs", () =>
      applyUnit(mgmt, {
        unit: { name: "flotilla-crds", namespace: "flux-system" },
        objects: crds,
        prune: false,
        wait: true,
        timeoutMs: 60_000,
      }),
    );

    const mgmtObjects = layout.providers.filter((p) => p.hasMgmt).flatMap((p) => render(tree, `${p.path}/mgmt`));
    if (standIn) {
      const discovery = await mgmt.discovery(true);
      const standIns = standInCrds(mgmtObjects, (apiVersion, kind) =>
        discovery.has(`${groupOf(apiVersion)}/${versionOf(apiVersion)}/${kind}`),
      );
      if (standIns.length > 0) {
        const kinds = standIns.map((c) => (c.spec as { names: { kind: string } }).names.kind).join(", ");
        await step(
          `installing ${standIns.length} stand-in CRD(s) for cloud Cluster API kinds (${kinds}) — stand-ins, not the real providers`,
          () =>
            applyUnit(mgmt, {
              unit: { name: "flotilla-stand-ins", namespace: "flux-system" },
              objects: standIns,
              prune: false,
              wait: true,
              timeoutMs: 60_000,
            }),
        );
      }
    }

    const provider = new LocalProvider({ mgmt, harness, standIn, logger });
    provider.start();
    cleanup.push(() => provider.stop());

    const served = await step("serving the repository over smart HTTP", () => serveRepository(options.repo));
    cleanup.push(served.stop);
    if (served.note) notice(served.note);
    const rewritten = new Set<string>();
    const controller = new Controller({
      kubeconfig: mgmtPlane.kubeconfig,
      logger,
      createNamespaces: options.createNamespaces ?? true,
      sourceUrlOverride: (g) => {
        // The mirror the planner wrote is up's own choice, so it is read through this override and
        // not checked as a user-written URL (plain http on loopback).
        if (served.local && g.spec.url === served.url) return served.url;
        if (!served.local || isLoopback(g.spec.url)) return undefined;
        if (!rewritten.has(g.spec.url)) {
          rewritten.add(g.spec.url);
          notice(
            `GitRepository ${g.metadata.namespace}/${g.metadata.name}: ${sanitizeUrl(g.spec.url)} is read from ${served.url} (a local run cannot reach the real remote)`,
          );
        }
        return served.url;
      },
    });
    cleanup.push(async () => controller.stop());
    await controller.start();
    const planner = new FleetPlanner(controller, { repoUrl: served.url, logger });
    const mode = await step("bootstrapping the fleet from the repository", () => planner.bootstrap());
    const unfollow = served.follow(() => controller.requestPollOfUrl(() => true));
    cleanup.push(async () => unfollow());

    const clustersWanted = mgmtObjects.filter((o) => o.kind === "Cluster").length;
    const workloads = () => harness.clusters.filter((c) => c.name !== "mgmt").length;
    return {
      harness,
      kubeconfig: mgmtPlane.kubeconfig,
      controller,
      repoUrl: served.url,
      mode,
      clustersWanted,
      clustersReady: workloads,
      unreadyManagementUnits: () =>
        controller
          .kustomizationList()
          .filter((u) => clusterOfUnit(u) === "mgmt" && readyCondition(u.status?.conditions)?.status !== "True")
          .map((u) => ({
            unit: objectKey(u),
            message: readyCondition(u.status?.conditions)?.message ?? "not reconciled yet",
          })),
      async provisioned(timeoutMs = 5 * 60_000) {
        const deadline = Date.now() + timeoutMs;
        while (workloads() < clustersWanted && Date.now() < deadline && !stopped)
          await new Promise((r) => setTimeout(r, 250));
        return workloads() >= clustersWanted;
      },
      stop,
    };
  } catch (error) {
    await stop();
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
  if (isRemoteRepository(repo))
    return { url: repo, local: false, follow: () => () => undefined, stop: async () => undefined };
  const root = mkdtempSync(join(tmpdir(), "flotilla-served-"));
  try {
    const mirror = await LocalMirror.create(repo, root);
    const server = await startGitHttpServer(root);
    return {
      url: `${server.url}/platform.git`,
      local: true,
      ...(mirror.syntheticTag
        ? {
            note: `the repository has no release tag: prod follows ${mirror.syntheticTag}, a tag on the current main in the served mirror only (your repository is not changed)`,
          }
        : {}),
      follow: (onChange) => mirror.follow(1000, onChange),
      stop: async () => {
        await server.stop();
        rmSync(root, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
}
