import { applyUnit } from "../../src/apply/apply.js";
import type { ClusterClient } from "../../src/core/kube/index.js";
import { Controller, type ControllerOptions } from "../../src/controller/controller.js";
import type { KubeObject } from "../../src/core/object.js";
import type { Harness } from "../../src/provision/local/harness.js";
import { startGitHttpServer, type GitHttpServer } from "./git-http-server.js";
import { TestRepo } from "./git-repo.js";
import { startManagementCluster } from "./management-cluster.js";

/**
 * What a controller test starts from: a management cluster with the CRDs (and the named workload
 * clusters) and a repository of one commit, served over smart HTTP.
 */
export interface ControllerTestbed {
  readonly harness: Harness;
  readonly mgmt: ClusterClient;
  readonly repo: TestRepo;
  readonly server: GitHttpServer;
  /** The repository's smart-HTTP URL, for `GitRepository.spec.url` and the planner's `repoUrl`. */
  readonly repoUrl: string;
  /** The SHA of the repository's first commit. */
  readonly firstCommit: string;
  /** The `flux-system` Namespace and a GitRepository `name` there that follows the repository's `main`. */
  fluxSource(name: string, apiVersion?: string): KubeObject[];
  /** Writes objects to the management cluster as a user's `kubectl apply` would (no prune, no wait). */
  apply(objects: KubeObject[]): Promise<void>;
  /** Starts a controller on the management cluster; `stop()` stops it. */
  startController(options?: Omit<ControllerOptions, "kubeconfig">): Promise<Controller>;
  /** Stops the controllers, the server and the control planes, and removes the repository. */
  stop(): Promise<void>;
}

export interface ControllerTestbedOptions {
  files: Record<string, string>;
  /** The first commit's title. */
  message?: string;
  workloads?: string[];
  /** The branch the first commit is on (the repository's default branch). */
  branch?: string;
}

export async function startControllerTestbed(options: ControllerTestbedOptions): Promise<ControllerTestbed> {
  const { harness, mgmt } = await startManagementCluster(options.workloads ?? []);
  const repo = TestRepo.create();
  if (options.branch && options.branch !== "main") repo.git("checkout", "-q", "-b", options.branch);
  const firstCommit = repo.commit(options.message ?? "platform", options.files);
  repo.publish();
  const server = await startGitHttpServer(repo.root);
  const repoUrl = `${server.url}/repo.git`;
  const controllers: Controller[] = [];
  return {
    harness,
    mgmt,
    repo,
    server,
    repoUrl,
    firstCommit,
    fluxSource: (name, apiVersion = "source.toolkit.fluxcd.io/v1") => [
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "flux-system" } },
      {
        apiVersion,
        kind: "GitRepository",
        metadata: { name, namespace: "flux-system" },
        spec: { url: repoUrl, ref: { branch: "main" }, interval: "10m" },
      },
    ],
    apply: async (objects) => {
      await applyUnit(mgmt, {
        unit: { name: "setup", namespace: "default" },
        objects,
        prune: false,
        wait: false,
        timeoutMs: 30_000,
      });
    },
    startController: async (controllerOptions = {}) => {
      // The testbed's repository is served over plain http on loopback, which the controller reads only when allowed.
      const controller = new Controller({
        allowInsecureHttp: true,
        ...controllerOptions,
        kubeconfig: harness.get("mgmt")!.kubeconfig,
      });
      controllers.push(controller);
      await controller.start();
      return controller;
    },
    stop: async () => {
      for (const controller of controllers) controller.stop();
      mgmt.close();
      await server.stop();
      await harness.stop();
      repo.remove();
    },
  };
}
