import type { Logger } from "pino";
import { applyUnit } from "../apply/apply.js";
import { ClusterClient } from "../core/kube/index.js";
import { kubeconfigDigest } from "./kustomization-reconciler.js";
import type { TargetCluster } from "./ports.js";

/**
 * One reused client per target cluster, keyed by the digest of its kubeconfig (never the secret
 * itself), with a per-request timeout so an unreachable cluster fails its own units only. A unit
 * with an identity (Flux's `serviceAccountName`, or `--default-service-account`) reaches its
 * cluster through the same client impersonating that user, so what it may write, prune, create
 * or read for health is what RBAC lets that user do.
 */
export class TargetClusters {
  private readonly clients = new Map<string, ClusterClient>();
  /** Views of those clients acting as a unit's identity; they share their sockets, so are not closed themselves. */
  private readonly impersonating = new Map<string, ClusterClient>();

  constructor(
    private readonly mgmt: ClusterClient,
    private readonly logger: Logger,
    private readonly options: {
      requestTimeoutMs?: number;
      createNamespaces?: boolean;
      allowExecKubeconfigs?: boolean;
      userAgent?: string;
    } = {},
  ) {}

  client(kubeconfig: string | undefined, identity?: string): ClusterClient {
    const base = kubeconfig === undefined ? this.mgmt : this.remote(kubeconfig);
    if (identity === undefined) return base;
    // Kept, so each identity's discovery is read once, not at every reconcile.
    const key = `${kubeconfig === undefined ? "mgmt" : kubeconfigDigest(kubeconfig)}\u0000${identity}`;
    let client = this.impersonating.get(key);
    if (!client) {
      client = base.as({ user: identity });
      this.impersonating.set(key, client);
    }
    return client;
  }

  private remote(kubeconfig: string): ClusterClient {
    const key = kubeconfigDigest(kubeconfig);
    let client = this.clients.get(key);
    if (!client) {
      // A Secret's kubeconfig: no file paths, and no exec plugin unless --allow-exec-kubeconfigs.
      client = ClusterClient.fromSecret(kubeconfig, "of spec.kubeConfig.secretRef", {
        timeoutMs: this.options.requestTimeoutMs ?? 15_000,
        retries: 2,
        // A fleet controller touches each cluster in bursts, once per revision or interval: a thousand
        // clusters' pools kept full between them held 8,000 TLS connections (about half the
        // controller's memory at 1,000 clusters). Two stay open for 30 s after a burst.
        idle: { sockets: 2, timeoutMs: 30_000 },
        allowExec: this.options.allowExecKubeconfigs ?? false,
        ...(this.options.userAgent ? { userAgent: this.options.userAgent } : {}),
      });
      this.clients.set(key, client);
    }
    return client;
  }

  target(kubeconfig: string | undefined, identity?: string): TargetCluster {
    const client = this.client(kubeconfig, identity);
    return {
      apply: (request) =>
        applyUnit(
          client,
          {
            ...request,
            objects: structuredClone(request.objects),
            createNamespaces: this.options.createNamespaces ?? false,
          },
          { logger: this.logger },
        ),
    };
  }

  /** Requests made so far to the workload cluster of `kubeconfig`, by verb (undefined: none yet); impersonated requests included. */
  requestCounts(kubeconfig: string): Readonly<ClusterClient["counts"]> | undefined {
    return this.clients.get(kubeconfigDigest(kubeconfig))?.counts;
  }

  /** Requests and writes (creates, applies, patches, deletes) made so far to every workload cluster. */
  totals(): { requests: number; writes: number } {
    let requests = 0;
    let writes = 0;
    for (const c of this.clients.values()) {
      requests += Object.values(c.counts).reduce((a, b) => a + b, 0);
      writes += c.writes();
    }
    return { requests, writes };
  }

  /** Requests made so far to every workload cluster, by verb. */
  countsByVerb(): Record<string, number> {
    const sum: Record<string, number> = {};
    for (const c of this.clients.values())
      for (const [verb, n] of Object.entries(c.counts)) sum[verb] = (sum[verb] ?? 0) + n;
    return sum;
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
    this.impersonating.clear();
  }
}
