import type { Logger } from "pino";
import type { ClusterClient } from "../../core/kube/index.js";
import type { KubeObject } from "../../core/object.js";
import { ROLLOUT_API_VERSION, type RolloutObject, type RolloutStatus } from "../../rollout/index.js";
import { ResourceWatch } from "../../core/kube/index.js";
import type { RolloutController } from "./rollout-controller.js";

type Credentials = ConstructorParameters<typeof ResourceWatch>[0];

export interface RolloutWatches {
  stop(): void;
}

/** Cluster API's Cluster versions, newest first: the one the management cluster serves is watched. */
const CLUSTER_PATHS = ["/apis/cluster.x-k8s.io/v1beta1/clusters", "/apis/cluster.x-k8s.io/v1beta2/clusters"];

/**
 * Watches Rollouts and Cluster API Clusters for the rollout controller. Either CRD may be missing
 * (a management cluster without Cluster API, or without the Rollout CRD): then rollouts are off and
 * the watch is tried again every 30 s; the controller's readiness does not wait for these watches.
 */
export function watchRollouts(creds: Credentials, rollouts: RolloutController, logger: Logger): RolloutWatches {
  const watches: Array<ResourceWatch<KubeObject>> = [];
  const timers: NodeJS.Timeout[] = [];
  let stopped = false;
  const start = (
    paths: string[],
    on: (type: "ADDED" | "MODIFIED" | "DELETED", o: KubeObject) => void,
    attempt = 0,
  ): void => {
    if (stopped) return;
    const path = paths[attempt % paths.length]!;
    const w = new ResourceWatch<KubeObject>(creds, path, { onEvent: (type, o) => on(type as "ADDED", o) }, logger);
    void w.start().then(
      () => watches.push(w),
      (error: Error) => {
        void w.stop();
        if (attempt === 0)
          logger.info(
            { watch: path, err: error.message },
            "not watching (rollouts need the Rollout and Cluster API CRDs); trying again every 30s",
          );
        const t = setTimeout(() => start(paths, on, attempt + 1), attempt + 1 < paths.length ? 0 : 30_000);
        t.unref();
        timers.push(t);
      },
    );
  };
  start([`/apis/${ROLLOUT_API_VERSION}/rollouts`], (type, o) => rollouts.onRollout(type, o as RolloutObject));
  start(CLUSTER_PATHS, (type, o) => rollouts.onCluster(type, o));
  return {
    stop() {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      for (const w of watches) void w.stop();
    },
  };
}

/** A merge patch of a Rollout's status; fields the new status dropped are removed (null), so a cleared halt does not linger. */
export async function patchRolloutStatus(
  client: ClusterClient,
  r: RolloutObject,
  status: RolloutStatus,
): Promise<void> {
  const removed = Object.fromEntries(
    Object.keys(r.status ?? {})
      .filter((k) => !(k in status))
      .map((k) => [k, null]),
  );
  const path = `/apis/${ROLLOUT_API_VERSION}/namespaces/${r.metadata.namespace}/rollouts/${r.metadata.name}/status`;
  await client.request(
    "PATCH",
    path,
    { status: { ...removed, ...status } },
    { contentType: "application/merge-patch+json", allow: [404] },
  );
}
