import { createHash } from "node:crypto";
import type { ClusterClient } from "../../core/kube/index.js";

/**
 * `coordination.k8s.io/v1` Leases as the replicas use them, over the management cluster's client:
 * list (one label-selected list per tick), create, resourceVersion-checked update (optimistic
 * concurrency: a 409 means another replica wrote first) and resourceVersion-checked delete.
 */
export const LEASE_API = "/apis/coordination.k8s.io/v1";
export { LEASE_CLUSTER_ANNOTATION, LEASE_ROLE_LABEL, LEASE_SHARD_LABEL } from "../../core/leases.js";

export interface Lease {
  apiVersion: "coordination.k8s.io/v1";
  kind: "Lease";
  metadata: {
    name: string;
    namespace: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/** A MicroTime as the apiserver writes it (RFC 3339 with 6 fraction digits). */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** A DNS-1123 name made of `parts`, shortened with a digest when it would be too long or not valid. */
export function leaseName(prefix: string, text: string): string {
  const clean = text
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, "-")
    .replace(/^[-.]+|[-.]+$/g, "");
  const digest = createHash("sha256").update(text).digest("hex").slice(0, 10);
  const readable = clean === text && `${prefix}-${clean}`.length <= 200 ? clean : `${clean.slice(0, 120)}-${digest}`;
  return `${prefix}-${readable}`.replace(/[-.]+$/, "");
}

export class LeaseApi {
  constructor(
    private readonly client: ClusterClient,
    readonly namespace: string,
  ) {}

  private collection(): string {
    return `${LEASE_API}/namespaces/${encodeURIComponent(this.namespace)}/leases`;
  }

  /** Every Lease of the namespace with these labels. */
  async list(labels: Record<string, string>): Promise<Lease[]> {
    const selector = Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(",");
    const res = await this.client.request<{ items?: Lease[] }>(
      "GET",
      `${this.collection()}?labelSelector=${encodeURIComponent(selector)}`,
      undefined,
      {
        count: "list",
      },
    );
    return (res.body.items ?? []).filter(isLease);
  }

  /** Creates the Lease; undefined when one of that name exists (another replica was first). */
  async create(lease: Lease): Promise<Lease | undefined> {
    const res = await this.client.request<Lease>("POST", this.collection(), lease, { allow: [409], count: "create" });
    return res.status === 409 ? undefined : res.body;
  }

  /** Replaces the Lease if nobody wrote it since `lease.metadata.resourceVersion`; undefined on a conflict or when it is gone. */
  async update(lease: Lease): Promise<Lease | undefined> {
    const res = await this.client.request<Lease>(
      "PUT",
      `${this.collection()}/${encodeURIComponent(lease.metadata.name)}`,
      lease,
      {
        allow: [404, 409],
        count: "patch",
      },
    );
    return res.status === 200 ? res.body : undefined;
  }

  /** Deletes the Lease if nobody wrote it since `resourceVersion`; false on a conflict. */
  async delete(name: string, resourceVersion: string): Promise<boolean> {
    const res = await this.client.request(
      "DELETE",
      `${this.collection()}/${encodeURIComponent(name)}`,
      { apiVersion: "v1", kind: "DeleteOptions", preconditions: { resourceVersion } },
      { allow: [404, 409], count: "delete" },
    );
    return res.status === 200 || res.status === 404;
  }
}

/** What the apiserver answers is still checked: a list item that is not a Lease is ignored. */
function isLease(o: unknown): o is Lease {
  const l = o as Lease;
  return (
    typeof l === "object" &&
    l !== null &&
    typeof l.metadata?.name === "string" &&
    typeof l.spec === "object" &&
    l.spec !== null
  );
}
