import type { Logger } from "pino";
import { ClusterClient } from "../../core/kube/index.js";
import { silentLogger } from "../../core/log.js";
import type { KubeObject } from "../../core/object.js";
import type { Harness, LocalControlPlane } from "./harness.js";

const CLUSTERS = "/apis/cluster.x-k8s.io/v1beta1/clusters";
const FINALIZER = "cluster.flotilla.dev/local-provider";
const CLOUD_INFRASTRUCTURE =
  /^(AWS|Azure|GCP|Vsphere|VSphere|OpenStack|Docker|Metal3|Hetzner|DigitalOcean|Packet|IBMPowerVS|IBMVPC|Oci|Nutanix|CloudStack)\w*Cluster$/;

export interface ProviderOptions {
  mgmt: ClusterClient;
  harness: Harness;
  /** Also adopt Clusters whose infrastructure is a cloud (stand-in mode). */
  standIn: boolean;
  logger?: Logger;
  intervalMs?: number;
}

type Cluster = KubeObject & {
  metadata: KubeObject["metadata"] & { finalizers?: string[]; deletionTimestamp?: string };
  spec?: { infrastructureRef?: { kind?: string; name?: string; apiVersion?: string } };
  status?: Record<string, unknown>;
};

/**
 * The `local` infrastructure provider: fulfils the Cluster API contract for Clusters whose
 * infrastructure is a LocalCluster (and, in stand-in mode, a cloud) with a real control plane on
 * this machine — the `<name>-kubeconfig` Secret (key `value`) and the status real providers set.
 * A control plane whose apiserver dies is restarted; a deleted Cluster's control plane is stopped.
 */
export class LocalProvider {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly log: Logger;
  private readonly healing = new Set<string>();

  constructor(private readonly options: ProviderOptions) {
    this.log = (options.logger ?? silentLogger).child({ component: "local-provider" });
  }

  start(): void {
    this.stopped = false;
    const loop = async () => {
      this.running = this.reconcileAll().catch((error: unknown) =>
        this.log.warn({ err: (error as Error).message }, "reconcile failed"),
      );
      await this.running;
      if (!this.stopped) this.timer = setTimeout(() => void loop(), this.options.intervalMs ?? 1000);
    };
    this.timer = setTimeout(() => void loop(), 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  private adopts(c: Cluster): boolean {
    const kind = c.spec?.infrastructureRef?.kind ?? "";
    return (
      kind === "LocalCluster" || (this.options.standIn && (CLOUD_INFRASTRUCTURE.test(kind) || kind.endsWith("Cluster")))
    );
  }

  /** One pass over every Cluster on the management cluster. */
  async reconcileAll(): Promise<void> {
    const { mgmt, harness } = this.options;
    const list = await mgmt.request<{ items: Cluster[] }>("GET", CLUSTERS, undefined, { allow: [404] });
    if (list.status === 404) return;
    const seen = new Set<string>();
    for (const c of list.body.items) {
      if (!this.adopts(c)) continue;
      const name = c.metadata.name!;
      seen.add(name);
      if (c.metadata.deletionTimestamp) {
        await this.teardown(c);
        continue;
      }
      await this.provision(c);
    }
    for (const cp of harness.clusters) if (!seen.has(cp.name) && cp.name !== "mgmt") await harness.remove(cp.name);
  }

  private async provision(c: Cluster): Promise<void> {
    const { mgmt, harness } = this.options;
    const name = c.metadata.name!;
    const namespace = c.metadata.namespace ?? "default";
    const path = `/apis/cluster.x-k8s.io/v1beta1/namespaces/${namespace}/clusters/${name}`;
    if (!c.metadata.finalizers?.includes(FINALIZER)) {
      await mgmt.request(
        "PATCH",
        path,
        { metadata: { finalizers: [...(c.metadata.finalizers ?? []), FINALIZER] } },
        { contentType: "application/merge-patch+json", count: "patch" },
      );
    }
    let cp: LocalControlPlane | undefined = harness.get(name);
    if (!cp) {
      this.log.info({ cluster: name }, "provisioning a local control plane");
      await this.setStatus(
        c,
        { phase: "Provisioning" },
        { status: "False", reason: "Provisioning", message: "starting a local control plane" },
      );
      cp = await harness.add(name);
    } else if (!cp.alive() && !this.healing.has(name)) {
      this.healing.add(name);
      this.log.warn({ cluster: name }, "control plane died; restarting it");
      await this.setStatus(
        c,
        { phase: "Provisioned" },
        {
          status: "False",
          reason: "ControlPlaneRestarting",
          message: "the apiserver process died; restarting it (auto-healing)",
        },
      );
      try {
        await cp.restart();
      } finally {
        this.healing.delete(name);
      }
    }
    await this.writeSecret(c, cp);
    await this.setStatus(
      c,
      { phase: "Provisioned", infrastructureReady: true, controlPlaneReady: true },
      { status: "True", reason: "Ready", message: `local control plane at ${cp.server}` },
    );
    const infra = c.spec?.infrastructureRef;
    if (infra?.kind === "LocalCluster" && infra.name) {
      const version = infra.apiVersion?.split("/")[1] ?? "v1beta1";
      await mgmt.request(
        "PATCH",
        `/apis/infrastructure.cluster.x-k8s.io/${version}/namespaces/${namespace}/localclusters/${infra.name}/status`,
        { status: { ready: true, server: cp.server } },
        { contentType: "application/merge-patch+json", allow: [404], count: "patch" },
      );
    }
  }

  private async writeSecret(c: Cluster, cp: LocalControlPlane): Promise<void> {
    const { mgmt } = this.options;
    const namespace = c.metadata.namespace ?? "default";
    const name = `${c.metadata.name}-kubeconfig`;
    const value = Buffer.from(cp.kubeconfig).toString("base64");
    const path = `/api/v1/namespaces/${namespace}/secrets/${name}`;
    const live = await mgmt.request<KubeObject & { data?: Record<string, string> }>("GET", path, undefined, {
      allow: [404],
      count: "get",
    });
    if (live.status === 200 && live.body.data?.value === value) return;
    const secret = {
      apiVersion: "v1",
      kind: "Secret",
      type: "cluster.x-k8s.io/secret",
      metadata: { name, namespace, labels: { "cluster.x-k8s.io/cluster-name": c.metadata.name! } },
      data: { value },
    };
    await mgmt.request("PATCH", `${path}?fieldManager=flotilla-local-provider&force=true`, secret, {
      contentType: "application/apply-patch+yaml",
      count: "apply",
    });
  }

  private async setStatus(
    c: Cluster,
    fields: Record<string, unknown>,
    ready: { status: string; reason: string; message: string },
  ): Promise<void> {
    const current = (c.status ?? {}) as Record<string, unknown>;
    const conditions = (current.conditions as Array<Record<string, unknown>> | undefined) ?? [];
    const old = conditions.find((x) => x.type === "Ready");
    const unchanged =
      Object.entries(fields).every(([k, v]) => current[k] === v) &&
      old?.status === ready.status &&
      old.reason === ready.reason &&
      old.message === ready.message;
    if (unchanged) return;
    const condition = {
      type: "Ready",
      ...ready,
      lastTransitionTime:
        old?.status === ready.status ? old.lastTransitionTime : new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
    };
    const status = { ...current, ...fields, conditions: [condition, ...conditions.filter((x) => x.type !== "Ready")] };
    const namespace = c.metadata.namespace ?? "default";
    await this.options.mgmt.request(
      "PATCH",
      `/apis/cluster.x-k8s.io/v1beta1/namespaces/${namespace}/clusters/${c.metadata.name}/status`,
      { status },
      { contentType: "application/merge-patch+json", count: "patch" },
    );
    c.status = status;
  }

  private async teardown(c: Cluster): Promise<void> {
    const { mgmt, harness } = this.options;
    const name = c.metadata.name!;
    const namespace = c.metadata.namespace ?? "default";
    this.log.info({ cluster: name }, "deleting the local control plane");
    await harness.remove(name);
    await mgmt.request("DELETE", `/api/v1/namespaces/${namespace}/secrets/${name}-kubeconfig`, undefined, {
      allow: [404],
      count: "delete",
    });
    const finalizers = (c.metadata.finalizers ?? []).filter((f) => f !== FINALIZER);
    await mgmt.request(
      "PATCH",
      `/apis/cluster.x-k8s.io/v1beta1/namespaces/${namespace}/clusters/${name}`,
      { metadata: { finalizers } },
      { contentType: "application/merge-patch+json", allow: [404], count: "patch" },
    );
  }
}
