import { createHash } from "node:crypto";
import type { Logger } from "pino";
import { ClusterClient } from "../../core/kube/client.js";
import { ResourceWatch } from "../../core/kube/watch.js";
import { TimeoutError } from "../../core/errors.js";
import { silentLogger } from "../../core/log.js";
import type { KubeObject } from "../../core/object.js";

/** Label on every simulated Node and PersistentVolume, so nobody mistakes them for real ones. */
export const SIMULATED_LABEL = "flotilla.dev/simulated";

export interface SimulatedKubeletOptions {
  /** How many Nodes to register (`simulated-node-0` …); 3 by default. */
  nodes?: number;
  /** Node name prefix; `simulated-node-` by default. */
  namePrefix?: string;
  /** Time from a Pod's binding to Running and Ready; 500 ms by default. */
  startDelayMs?: number;
  /** Time a completing Pod (a Job's, or restartPolicy Never/OnFailure) runs before Succeeded; 1,000 ms by default. */
  runToCompletionMs?: number;
  /** Pods with a container image matching this never become Ready (CrashLoopBackOff); `crashloop` by default. */
  crashLoopImage?: RegExp | string;
  /** First back-off between simulated restarts of a crash-looping container (doubles, up to 5 minutes); 1,000 ms by default. */
  crashLoopBackoffMs?: number;
  /** How often each Node's Lease in `kube-node-lease` is renewed; 10 s by default (the kubelet's). */
  leaseRenewMs?: number;
  /** Each Node's capacity (also its allocatable). */
  capacity?: { cpu?: string; memory?: string; pods?: string };
  /** Bind pending PersistentVolumeClaims to simulated PersistentVolumes (the cluster has no volume provisioner); true by default. */
  bindVolumes?: boolean;
  logger?: Logger;
}

/** What the simulated kubelet does with a Pod, from its images and restart policy. */
export type PodFate = "run" | "complete" | "crashloop" | "fail";

type Pod = KubeObject & {
  metadata: KubeObject["metadata"] & {
    uid: string;
    namespace: string;
    name: string;
    deletionTimestamp?: string;
    ownerReferences?: Array<{ kind: string }>;
  };
  spec: {
    nodeName?: string;
    restartPolicy?: string;
    hostNetwork?: boolean;
    containers: Array<{ name: string; image?: string }>;
    initContainers?: Array<{ name: string; image?: string }>;
  };
  status?: {
    phase?: string;
    podIP?: string;
    startTime?: string;
    conditions?: Array<{ type: string; status: string }>;
    containerStatuses?: Array<{ restartCount?: number }>;
  };
};

interface PodRecord {
  /** A transition is scheduled or being written. */
  busy: boolean;
  timer?: NodeJS.Timeout;
  /** The resourceVersion of this kubelet's last write: older events are stale echoes. */
  writtenRv: number;
  deleting: boolean;
  node: string;
  ip?: string;
  restarts: number;
}

interface SimulatedNode {
  name: string;
  index: number;
  hostIP: string;
  /** Pod IPs in use, so a node's /24 is reused without collisions. */
  used: Set<string>;
  next: number;
}

const MAX_BACKOFF_MS = 5 * 60_000;
const NOT_READY_TAINTS = ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"];

/**
 * A simulated kubelet (in the spirit of KWOK) for a local control plane with no machines: it
 * registers Ready `Node` objects named `simulated-node-N`, renews their Leases so the
 * node-lifecycle controller keeps them healthy, and moves the Pods that the scheduler binds to
 * them through their lifecycle by writing Pod status — Running and Ready after `startDelayMs`,
 * Succeeded for Pods that run to completion, CrashLoopBackOff for images matching
 * `crashLoopImage` — and removes Pods being deleted. No container runs.
 */
export class SimulatedKubelet {
  readonly nodeNames: string[];
  private readonly client: ClusterClient;
  private readonly log: Logger;
  private readonly nodes = new Map<string, SimulatedNode>();
  private readonly pods = new Map<string, PodRecord>();
  private readonly boundClaims = new Set<string>();
  private readonly crashLoop: RegExp;
  private readonly opts: Required<Omit<SimulatedKubeletOptions, "logger" | "crashLoopImage" | "capacity">> & {
    capacity: { cpu: string; memory: string; pods: string };
  };
  private leaseTimer: NodeJS.Timeout | undefined;
  private readonly watches: Array<ResourceWatch<KubeObject>> = [];
  private stopped = false;
  private kubeletVersion = "v0.0.0-simulated";

  constructor(kubeconfig: string, options: SimulatedKubeletOptions = {}) {
    this.client = ClusterClient.fromKubeconfig(kubeconfig, { sockets: 8, retries: 2, timeoutMs: 15_000 });
    this.log = (options.logger ?? silentLogger).child({ component: "simulated-kubelet" });
    this.crashLoop =
      options.crashLoopImage instanceof RegExp
        ? options.crashLoopImage
        : new RegExp(escapeRegExp(options.crashLoopImage ?? "crashloop"));
    this.opts = {
      nodes: options.nodes ?? 3,
      namePrefix: options.namePrefix ?? "simulated-node-",
      startDelayMs: options.startDelayMs ?? 500,
      runToCompletionMs: options.runToCompletionMs ?? 1000,
      crashLoopBackoffMs: options.crashLoopBackoffMs ?? 1000,
      leaseRenewMs: options.leaseRenewMs ?? 10_000,
      bindVolumes: options.bindVolumes ?? true,
      capacity: { cpu: "32", memory: "128Gi", pods: "250", ...options.capacity },
    };
    this.nodeNames = Array.from({ length: this.opts.nodes }, (_, i) => `${this.opts.namePrefix}${i}`);
    this.nodeNames.forEach((name, index) =>
      this.nodes.set(name, {
        name,
        index,
        hostIP: `10.200.${Math.floor(index / 250)}.${(index % 250) + 1}`,
        used: new Set(),
        next: 1,
      }),
    );
  }

  /**
   * Registers the Nodes (or marks existing ones Ready again), starts watching Pods, and resolves
   * once the Nodes are schedulable: the apiserver taints a new Node `node.kubernetes.io/not-ready`
   * and the node-lifecycle controller (kube-controller-manager) lifts it when it sees Ready.
   */
  async start(options: { schedulableTimeoutMs?: number } = {}): Promise<void> {
    const started = Date.now();
    const version = await this.client.request<{ gitVersion?: string }>("GET", "/version", undefined, {
      allow: [401, 403, 404],
    });
    if (version.status === 200 && version.body.gitVersion) this.kubeletVersion = version.body.gitVersion;
    await Promise.all(this.nodeNames.map((n) => this.registerNode(n)));
    this.leaseTimer = setInterval(() => void this.renewLeases(), this.opts.leaseRenewMs);
    // The one list-and-watch (core/kube): a re-list reports Pods gone meanwhile as DELETED.
    await this.watch("/api/v1/pods?fieldSelector=spec.nodeName%21%3D", (type, obj) => this.onPod(type, obj as Pod));
    if (this.opts.bindVolumes)
      await this.watch("/api/v1/persistentvolumeclaims", (type, obj) => this.onClaim(type, obj));
    await this.untilSchedulable(options.schedulableTimeoutMs ?? 60_000);
    this.log.debug(
      { nodes: this.nodeNames.length, ms: Date.now() - started },
      "simulated nodes registered and schedulable",
    );
  }

  private async untilSchedulable(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const nodes = (
        await this.client.request<{ items: Array<KubeObject & { spec?: { taints?: Array<{ key: string }> } }> }>(
          "GET",
          `/api/v1/nodes?labelSelector=${encodeURIComponent(`${SIMULATED_LABEL}=true`)}`,
        )
      ).body.items;
      const tainted = this.nodeNames.filter((n) => {
        const node = nodes.find((x) => x.metadata.name === n);
        return !node || (node.spec?.taints ?? []).some((t) => NOT_READY_TAINTS.includes(t.key));
      });
      if (tainted.length === 0) return;
      if (Date.now() > deadline) {
        throw new TimeoutError(
          `simulated node '${tainted[0]}' still has a not-ready taint after ${timeoutMs} ms; is kube-controller-manager (node-lifecycle) running?`,
          { object: `Node/${tainted[0]}`, field: "spec.taints" },
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Stops watching and writing; the Nodes stay (as a stopped kubelet's do) and turn NotReady after the grace period. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.leaseTimer);
    for (const rec of this.pods.values()) clearTimeout(rec.timer);
    await Promise.allSettled(this.watches.map((w) => w.stop()));
    this.client.close();
  }

  /** What happens to a Pod on a simulated node. */
  fateOf(pod: Pick<Pod, "spec">): PodFate {
    const images = [...(pod.spec.initContainers ?? []), ...pod.spec.containers].map((c) => c.image ?? "");
    const policy = pod.spec.restartPolicy ?? "Always";
    if (images.some((i) => this.crashLoop.test(i))) return policy === "Never" ? "fail" : "crashloop";
    return policy === "Always" ? "run" : "complete";
  }

  // ── Nodes ────────────────────────────────────────────────────────────────────────────────────

  private async registerNode(name: string): Promise<void> {
    const node = this.nodes.get(name)!;
    const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    const conditions = [
      {
        type: "MemoryPressure",
        status: "False",
        reason: "KubeletHasSufficientMemory",
        message: "simulated kubelet has sufficient memory available",
      },
      {
        type: "DiskPressure",
        status: "False",
        reason: "KubeletHasNoDiskPressure",
        message: "simulated kubelet has no disk pressure",
      },
      {
        type: "PIDPressure",
        status: "False",
        reason: "KubeletHasSufficientPID",
        message: "simulated kubelet has sufficient PID available",
      },
      { type: "Ready", status: "True", reason: "KubeletReady", message: "simulated kubelet is posting ready status" },
    ].map((c) => ({ ...c, lastHeartbeatTime: now, lastTransitionTime: now }));
    const cidr = `10.${128 + Math.floor(node.index / 256)}.${node.index % 256}.0/24`;
    const status = {
      capacity: this.opts.capacity,
      allocatable: this.opts.capacity,
      conditions,
      addresses: [
        { type: "InternalIP", address: node.hostIP },
        { type: "Hostname", address: name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: hash(name, 32),
        systemUUID: hash(`${name}/uuid`, 32),
        bootID: hash(`${name}/${Date.now()}`, 32),
        kernelVersion: "simulated",
        osImage: "Flotilla simulated node",
        containerRuntimeVersion: "simulated://0",
        kubeletVersion: this.kubeletVersion,
        kubeProxyVersion: this.kubeletVersion,
        operatingSystem: "linux",
        architecture: "amd64",
      },
    };
    const labels = {
      "kubernetes.io/hostname": name,
      "kubernetes.io/os": "linux",
      "kubernetes.io/arch": "amd64",
      "beta.kubernetes.io/os": "linux",
      "beta.kubernetes.io/arch": "amd64",
      "node.kubernetes.io/instance-type": "simulated",
      [SIMULATED_LABEL]: "true",
    };
    const body = {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name, labels },
      spec: { podCIDR: cidr, podCIDRs: [cidr] },
      status,
    };
    const created = await this.client.request<KubeObject>("POST", "/api/v1/nodes", body, { allow: [409] });
    // An existing Node (a restarted kubelet, a re-adopted cluster) gets fresh Ready status.
    const current =
      created.status === 409
        ? await this.client.request<KubeObject>(
            "PATCH",
            `/api/v1/nodes/${name}/status`,
            { status },
            { contentType: "application/merge-patch+json" },
          )
        : created;
    if (created.status === 409)
      await this.client.request(
        "PATCH",
        `/api/v1/nodes/${name}`,
        { metadata: { labels } },
        { contentType: "application/merge-patch+json" },
      );
    await this.renewLease(name, String(current.body.metadata.uid ?? ""));
  }

  private async renewLeases(): Promise<void> {
    if (this.stopped) return;
    await Promise.all(
      this.nodeNames.map((n) =>
        this.renewLease(n).catch((error: unknown) => {
          if (!this.stopped)
            this.log.warn({ node: n, err: (error as Error).message }, "could not renew a simulated node's lease");
        }),
      ),
    );
  }

  /** Renews (or creates) the node's Lease in `kube-node-lease`, the kubelet's heartbeat since Kubernetes 1.17. */
  private async renewLease(name: string, nodeUid?: string): Promise<void> {
    const path = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${name}`;
    const renewTime = microTime(new Date());
    const patched = await this.client.request(
      "PATCH",
      path,
      { spec: { renewTime, holderIdentity: name } },
      { contentType: "application/merge-patch+json", allow: [404] },
    );
    if (patched.status !== 404) return;
    const uid =
      nodeUid ??
      String((await this.client.request<KubeObject>("GET", `/api/v1/nodes/${name}`)).body.metadata.uid ?? "");
    const lease = {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: {
        name,
        namespace: "kube-node-lease",
        ownerReferences: [{ apiVersion: "v1", kind: "Node", name, uid }],
      },
      spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime },
    };
    await this.client.request("POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", lease, {
      allow: [409],
    });
  }

  // ── Pods ─────────────────────────────────────────────────────────────────────────────────────

  private onPod(type: string, pod: Pod): void {
    const uid = pod.metadata.uid;
    if (type === "DELETED") return this.forget(uid);
    const node = this.nodes.get(pod.spec.nodeName ?? "");
    if (!node) return;
    let rec = this.pods.get(uid);
    if (!rec) {
      rec = {
        busy: false,
        writtenRv: 0,
        deleting: false,
        node: node.name,
        restarts: pod.status?.containerStatuses?.[0]?.restartCount ?? 0,
      };
      if (pod.status?.podIP && !pod.spec.hostNetwork) {
        rec.ip = pod.status.podIP;
        node.used.add(rec.ip);
      }
      this.pods.set(uid, rec);
    }
    if (Number(pod.metadata.resourceVersion) <= rec.writtenRv) return;
    if (pod.metadata.deletionTimestamp) {
      if (!rec.deleting) {
        rec.deleting = true;
        clearTimeout(rec.timer);
        void this.guard(pod, () => this.deletePod(pod));
      }
      return;
    }
    const phase = pod.status?.phase ?? "Pending";
    if (phase === "Succeeded" || phase === "Failed" || rec.busy) return;
    const fate = this.fateOf(pod);
    if (phase === "Pending") return this.later(rec, pod, this.opts.startDelayMs, () => this.startPod(pod, rec, fate));
    // Running: adopted after a restart, or changed by someone else (the node-lifecycle controller marks Pods NotReady).
    if (fate === "crashloop") return this.later(rec, pod, this.backoff(rec), () => this.crash(pod, rec));
    if (fate === "complete" || fate === "fail")
      return this.later(rec, pod, this.opts.runToCompletionMs, () => this.finish(pod, rec, fate));
    if (!isReady(pod)) return this.later(rec, pod, 0, () => this.startPod(pod, rec, fate));
  }

  private forget(uid: string): void {
    const rec = this.pods.get(uid);
    if (!rec) return;
    clearTimeout(rec.timer);
    if (rec.ip) this.nodes.get(rec.node)?.used.delete(rec.ip);
    this.pods.delete(uid);
  }

  /** Runs `step` after `ms`, one step per Pod at a time. */
  private later(rec: PodRecord, pod: Pod, ms: number, step: () => Promise<void>): void {
    rec.busy = true;
    rec.timer = setTimeout(() => {
      rec.timer = undefined;
      void this.guard(pod, step).finally(() => {
        // A step may have scheduled the next one; only then is the Pod still busy.
        if (!rec.timer) rec.busy = false;
      });
    }, ms);
  }

  private async guard(pod: Pod, step: () => Promise<void>): Promise<void> {
    if (this.stopped) return;
    try {
      await step();
    } catch (error) {
      if (!this.stopped)
        this.log.warn(
          { pod: `${pod.metadata.namespace}/${pod.metadata.name}`, err: (error as Error).message },
          "simulated kubelet could not update a pod",
        );
    }
  }

  private backoff(rec: PodRecord): number {
    return Math.min(this.opts.crashLoopBackoffMs * 2 ** Math.max(0, rec.restarts - 1), MAX_BACKOFF_MS);
  }

  private async startPod(pod: Pod, rec: PodRecord, fate: PodFate): Promise<void> {
    const node = this.nodes.get(rec.node)!;
    const now = timestamp();
    const startTime = pod.status?.startTime ?? now;
    const ip = pod.spec.hostNetwork ? node.hostIP : (rec.ip ??= this.allocateIp(node));
    if (fate === "fail")
      return this.writeStatus(
        pod,
        rec,
        this.status(pod, {
          phase: "Failed",
          ready: false,
          startTime,
          ip,
          state: () => ({ terminated: { exitCode: 1, reason: "Error", startedAt: startTime, finishedAt: now } }),
        }),
      );
    if (fate === "crashloop") {
      rec.restarts = Math.max(rec.restarts, 1);
      await this.writeStatus(pod, rec, this.crashStatus(pod, rec, startTime, ip));
      return this.later(rec, pod, this.backoff(rec), () => this.crash(pod, rec));
    }
    await this.writeStatus(
      pod,
      rec,
      this.status(pod, {
        phase: "Running",
        ready: true,
        startTime,
        ip,
        state: () => ({ running: { startedAt: startTime } }),
      }),
    );
    if (fate === "complete") this.later(rec, pod, this.opts.runToCompletionMs, () => this.finish(pod, rec, fate));
  }

  private async finish(pod: Pod, rec: PodRecord, fate: PodFate): Promise<void> {
    const node = this.nodes.get(rec.node)!;
    const startTime = pod.status?.startTime ?? timestamp();
    const ip = pod.spec.hostNetwork ? node.hostIP : (rec.ip ??= this.allocateIp(node));
    const ok = fate !== "fail";
    const now = timestamp();
    await this.writeStatus(
      pod,
      rec,
      this.status(pod, {
        phase: ok ? "Succeeded" : "Failed",
        ready: false,
        reason: "PodCompleted",
        startTime,
        ip,
        state: () => ({
          terminated: {
            exitCode: ok ? 0 : 1,
            reason: ok ? "Completed" : "Error",
            startedAt: startTime,
            finishedAt: now,
          },
        }),
      }),
    );
  }

  private async crash(pod: Pod, rec: PodRecord): Promise<void> {
    rec.restarts++;
    const node = this.nodes.get(rec.node)!;
    const ip = pod.spec.hostNetwork ? node.hostIP : (rec.ip ??= this.allocateIp(node));
    await this.writeStatus(pod, rec, this.crashStatus(pod, rec, pod.status?.startTime ?? timestamp(), ip));
    this.later(rec, pod, this.backoff(rec), () => this.crash(pod, rec));
  }

  private crashStatus(pod: Pod, rec: PodRecord, startTime: string, ip: string): Record<string, unknown> {
    const now = timestamp();
    const base = this.status(pod, {
      phase: "Running",
      ready: false,
      reason: "ContainersNotReady",
      startTime,
      ip,
      state: () => ({}),
    });
    const statuses = pod.spec.containers.map((c) => {
      const crashing = this.crashLoop.test(c.image ?? "");
      return {
        ...this.containerStatus(
          pod,
          c,
          crashing
            ? {
                waiting: {
                  reason: "CrashLoopBackOff",
                  message: `back-off restarting failed container ${c.name} (simulated)`,
                },
              }
            : { running: { startedAt: startTime } },
          !crashing,
        ),
        restartCount: crashing ? rec.restarts : 0,
        ...(crashing
          ? { lastState: { terminated: { exitCode: 1, reason: "Error", startedAt: now, finishedAt: now } } }
          : {}),
      };
    });
    return { ...base, containerStatuses: statuses };
  }

  private status(
    pod: Pod,
    s: {
      phase: string;
      ready: boolean;
      reason?: string;
      startTime: string;
      ip: string;
      state: () => Record<string, unknown>;
    },
  ): Record<string, unknown> {
    const now = timestamp();
    const condition = (type: string, ok: boolean) => ({
      type,
      status: ok ? "True" : "False",
      lastProbeTime: null,
      lastTransitionTime: now,
      ...(ok || !s.reason ? {} : { reason: s.reason }),
    });
    return {
      phase: s.phase,
      conditions: [
        condition("Initialized", true),
        condition("Ready", s.ready),
        condition("ContainersReady", s.ready),
        condition("PodScheduled", true),
      ],
      hostIP: this.nodes.get(pod.spec.nodeName!)!.hostIP,
      podIP: s.ip,
      podIPs: [{ ip: s.ip }],
      startTime: s.startTime,
      ...(pod.spec.initContainers?.length
        ? {
            initContainerStatuses: pod.spec.initContainers.map((c) =>
              this.containerStatus(
                pod,
                c,
                { terminated: { exitCode: 0, reason: "Completed", startedAt: s.startTime, finishedAt: s.startTime } },
                false,
              ),
            ),
          }
        : {}),
      containerStatuses: pod.spec.containers.map((c) => this.containerStatus(pod, c, s.state(), s.ready)),
    };
  }

  private containerStatus(
    pod: Pod,
    c: { name: string; image?: string },
    state: Record<string, unknown>,
    ready: boolean,
  ): Record<string, unknown> {
    const image = c.image ?? "";
    return {
      name: c.name,
      state,
      lastState: {},
      ready,
      restartCount: 0,
      image,
      imageID: `simulated://${image}@sha256:${hash(image, 64)}`,
      containerID: `simulated://${hash(`${pod.metadata.uid}/${c.name}`, 64)}`,
      started: "running" in state,
    };
  }

  private async writeStatus(pod: Pod, rec: PodRecord, status: Record<string, unknown>): Promise<void> {
    if (this.stopped || rec.deleting) return;
    const path = `/api/v1/namespaces/${encodeURIComponent(pod.metadata.namespace)}/pods/${encodeURIComponent(pod.metadata.name)}/status`;
    // The uid precondition keeps a status meant for one Pod off its same-named successor.
    const res = await this.client.request<KubeObject>(
      "PATCH",
      path,
      { metadata: { uid: pod.metadata.uid }, status },
      { contentType: "application/merge-patch+json", allow: [404, 409, 422] },
    );
    if (res.status === 200) rec.writtenRv = Math.max(rec.writtenRv, Number(res.body.metadata.resourceVersion));
  }

  private async deletePod(pod: Pod): Promise<void> {
    const path = `/api/v1/namespaces/${encodeURIComponent(pod.metadata.namespace)}/pods/${encodeURIComponent(pod.metadata.name)}`;
    await this.client.request(
      "DELETE",
      path,
      { apiVersion: "v1", kind: "DeleteOptions", gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid } },
      { allow: [404, 409] },
    );
  }

  private allocateIp(node: SimulatedNode): string {
    const prefix = `10.${128 + Math.floor(node.index / 256)}.${node.index % 256}`;
    for (let i = 0; i < 254; i++) {
      const ip = `${prefix}.${((node.next + i - 1) % 254) + 1}`;
      if (!node.used.has(ip)) {
        node.next = ((node.next + i) % 254) + 1;
        node.used.add(ip);
        return ip;
      }
    }
    return `${prefix}.254`;
  }

  // ── Volumes ──────────────────────────────────────────────────────────────────────────────────

  /** A pending claim gets a simulated PersistentVolume bound to it (the persistent-volume binder is off in the local control plane). */
  private onClaim(type: string, claim: KubeObject): void {
    const uid = String(claim.metadata.uid ?? "");
    const pvName = `simulated-pv-${uid}`;
    if (type === "DELETED") {
      this.boundClaims.delete(uid);
      void this.client
        .request("DELETE", `/api/v1/persistentvolumes/${pvName}`, undefined, { allow: [404] })
        .catch(() => undefined);
      return;
    }
    const spec = (claim.spec ?? {}) as {
      volumeName?: string;
      storageClassName?: string;
      accessModes?: string[];
      resources?: { requests?: { storage?: string } };
      volumeMode?: string;
    };
    if (spec.volumeName || claim.metadata.deletionTimestamp || this.boundClaims.has(uid)) return;
    this.boundClaims.add(uid);
    const ns = String(claim.metadata.namespace);
    const name = String(claim.metadata.name);
    void (async () => {
      const pv = {
        apiVersion: "v1",
        kind: "PersistentVolume",
        metadata: {
          name: pvName,
          labels: { [SIMULATED_LABEL]: "true" },
          annotations: { "pv.kubernetes.io/provisioned-by": "simulated-kubelet.flotilla.dev" },
        },
        spec: {
          capacity: { storage: spec.resources?.requests?.storage ?? "1Gi" },
          accessModes: spec.accessModes?.length ? spec.accessModes : ["ReadWriteOnce"],
          persistentVolumeReclaimPolicy: "Delete",
          ...(spec.storageClassName ? { storageClassName: spec.storageClassName } : {}),
          ...(spec.volumeMode ? { volumeMode: spec.volumeMode } : {}),
          hostPath: { path: `/var/lib/simulated-volumes/${uid}` },
          claimRef: { apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: ns, name, uid },
        },
      };
      await this.client.request("POST", "/api/v1/persistentvolumes", pv, { allow: [409] });
      await this.client.request(
        "PATCH",
        `/api/v1/persistentvolumes/${pvName}/status`,
        { status: { phase: "Bound" } },
        { contentType: "application/merge-patch+json" },
      );
      const claimPath = `/api/v1/namespaces/${encodeURIComponent(ns)}/persistentvolumeclaims/${encodeURIComponent(name)}`;
      await this.client.request(
        "PATCH",
        claimPath,
        {
          metadata: {
            uid,
            annotations: { "pv.kubernetes.io/bind-completed": "yes", "pv.kubernetes.io/bound-by-controller": "yes" },
          },
          spec: { volumeName: pvName },
        },
        { contentType: "application/merge-patch+json" },
      );
      const capacity = { storage: spec.resources?.requests?.storage ?? "1Gi" };
      await this.client.request(
        "PATCH",
        `${claimPath}/status`,
        { status: { phase: "Bound", accessModes: pv.spec.accessModes, capacity } },
        { contentType: "application/merge-patch+json" },
      );
    })().catch((error: unknown) => {
      this.boundClaims.delete(uid);
      if (!this.stopped)
        this.log.warn(
          { claim: `${ns}/${name}`, err: (error as Error).message },
          "simulated kubelet could not bind a claim",
        );
    });
  }

  // ── Watching ─────────────────────────────────────────────────────────────────────────────────

  private async watch(path: string, onEvent: (type: string, obj: KubeObject) => void): Promise<void> {
    const w = new ResourceWatch<KubeObject>(this.client, path, { onEvent }, this.log, { timeoutSeconds: 600 });
    this.watches.push(w);
    await w.start();
  }
}

function isReady(pod: Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

function timestamp(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, "Z");
}

/** Kubernetes MicroTime: RFC 3339 with exactly six fractional digits. */
function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

function hash(text: string, length: number): string {
  return createHash("sha256").update(text).digest("hex").slice(0, length);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
