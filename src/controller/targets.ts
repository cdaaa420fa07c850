import type { Logger } from "pino";
import { applyUnit } from "../apply/apply.js";
import { ClusterClient } from "../apply/client.js";
import { kubeconfigDigest } from "./kustomization-reconciler.js";
import type { TargetCluster } from "./ports.js";

/**
 * One reused client per target cluster, keyed by the digest of its kubeconfig (never the secret
 * itself), with a per-request timeout so an unreachable cluster fails its own units only.
 */
export class TargetClusters {
  private readonly clients = new Map<string, ClusterClient>();

  constructor(
    private readonly mgmt: ClusterClient,
    private readonly logger: Logger,
    private readonly options: { requestTimeoutMs?: number; createNamespaces?: boolean } = {},
  ) {}

  client(kubeconfig: string | undefined): ClusterClient {
    if (kubeconfig === undefined) return this.mgmt;
    const key = kubeconfigDigest(kubeconfig);
    let client = this.clients.get(key);
    if (!client) {
      client = ClusterClient.fromKubeconfig(kubeconfig, { timeoutMs: this.options.requestTimeoutMs ?? 15_000, retries: 2 });
      this.clients.set(key, client);
    }
    return client;
  }

  target(kubeconfig: string | undefined): TargetCluster {
    const client = this.client(kubeconfig);
    return {
      apply: (request) => applyUnit(client, { ...request, objects: structuredClone(request.objects), createNamespaces: this.options.createNamespaces ?? false }, { logger: this.logger }),
    };
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
