import { randomBytes } from "node:crypto";
import type { ClusterClient } from "../core/kube/index.js";
import type { GitRepository, Kustomization } from "../core/flux.js";
import type { KubeObject } from "../core/object.js";
import { groupOf } from "../core/object.js";
import type { ManagementCluster, SecretCredentials } from "./ports.js";

const plural: Record<string, string> = { Kustomization: "kustomizations", GitRepository: "gitrepositories" };

/** The management cluster as the reconcilers see it, over one ClusterClient. */
export class ApiManagementCluster implements ManagementCluster {
  constructor(
    private readonly client: ClusterClient,
    private readonly component = "flotilla",
  ) {}

  async getSecret(namespace: string, name: string): Promise<Record<string, string> | undefined> {
    const res = await this.client.request<{ data?: Record<string, string> }>(
      "GET",
      `/api/v1/namespaces/${namespace}/secrets/${name}`,
      undefined,
      { allow: [404], count: "get" },
    );
    if (res.status === 404) return undefined;
    return Object.fromEntries(
      Object.entries(res.body.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]),
    );
  }

  /** A Secret's data with who it is: `namespace/name/uid` (never derived from its content) and its resourceVersion. */
  async getCredentials(namespace: string, name: string): Promise<SecretCredentials | undefined> {
    const res = await this.client.request<{
      metadata?: { uid?: string; resourceVersion?: string };
      data?: Record<string, string>;
    }>("GET", `/api/v1/namespaces/${namespace}/secrets/${name}`, undefined, { allow: [404], count: "get" });
    if (res.status === 404) return undefined;
    const data = Object.fromEntries(
      Object.entries(res.body.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]),
    );
    return {
      data,
      identity: `${namespace}/${name}/${res.body.metadata?.uid ?? ""}`,
      version: res.body.metadata?.resourceVersion ?? "",
    };
  }

  async getConfigMap(namespace: string, name: string): Promise<Record<string, string> | undefined> {
    const res = await this.client.request<{ data?: Record<string, string> }>(
      "GET",
      `/api/v1/namespaces/${namespace}/configmaps/${name}`,
      undefined,
      { allow: [404], count: "get" },
    );
    return res.status === 404 ? undefined : (res.body.data ?? {});
  }

  patchKustomizationStatus(k: Kustomization, status: NonNullable<Kustomization["status"]>): Promise<void> {
    return this.patchStatus(k, status);
  }

  patchGitRepositoryStatus(g: GitRepository, status: NonNullable<GitRepository["status"]>): Promise<void> {
    return this.patchStatus(g, status);
  }

  /** A merge patch of the status subresource; an object deleted meanwhile is not an error. */
  private async patchStatus(o: KubeObject, status: object): Promise<void> {
    const path = `${objectPath(o)}/status`;
    await this.client.request(
      "PATCH",
      path,
      { status },
      { contentType: "application/merge-patch+json", allow: [404], count: "patch" },
    );
  }

  /** A core/v1 Event on the object, as Flux's controllers record them. */
  async event(regarding: KubeObject, type: "Normal" | "Warning", reason: string, message: string): Promise<void> {
    const namespace = regarding.metadata.namespace ?? "default";
    const now = new Date().toISOString();
    await this.client.request(
      "POST",
      `/api/v1/namespaces/${namespace}/events`,
      {
        apiVersion: "v1",
        kind: "Event",
        metadata: { name: `${regarding.metadata.name}.${randomBytes(8).toString("hex")}`, namespace },
        involvedObject: {
          apiVersion: regarding.apiVersion,
          kind: regarding.kind,
          name: regarding.metadata.name,
          namespace,
          uid: regarding.metadata.uid,
          resourceVersion: regarding.metadata.resourceVersion,
        },
        reason,
        message: message.length > 1024 ? `${message.slice(0, 1021)}...` : message,
        type,
        source: { component: this.component },
        reportingComponent: this.component,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      },
      { allow: [404, 409], count: "create" },
    );
  }

  /** Adds or removes a finalizer with a JSON merge patch guarded by the resourceVersion. */
  async setFinalizers(o: KubeObject, finalizers: string[]): Promise<KubeObject | undefined> {
    const res = await this.client.request<KubeObject>(
      "PATCH",
      objectPath(o),
      { metadata: { finalizers, resourceVersion: o.metadata.resourceVersion } },
      { contentType: "application/merge-patch+json", allow: [404, 409], count: "patch" },
    );
    return res.status === 200 ? res.body : undefined;
  }
}

/** The API path of a Flux object (v1, whatever version it was written in). */
export function objectPath(o: KubeObject): string {
  const group = groupOf(o.apiVersion);
  const resource = plural[o.kind];
  if (!resource) throw new Error(`no API path for kind ${o.kind}`);
  return `/apis/${group}/v1/namespaces/${o.metadata.namespace}/${resource}/${o.metadata.name}`;
}
