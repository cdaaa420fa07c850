import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyUnit, ClusterClient } from "../../src/apply/index.js";
import { resourceOrFail, scopeNamespace } from "../../src/apply/ssa.js";
import { run as runController } from "../../src/cli/controller.js";
import { parseListenAddress } from "../../src/controller/http-server.js";
import { DiskTree } from "../../src/core/file-tree.js";
import { deepClone, objectRef, type KubeObject } from "../../src/core/object.js";
import { startHarness, type Harness } from "../../src/provision/local/harness.js";
import { render } from "../../src/render/index.js";

const ROOT = join(import.meta.dirname, "..", "..");
const SUBJECT = { kind: "ServiceAccount", name: "flotilla", namespace: "flux-system" };
const SA_USER = `system:serviceaccount:${SUBJECT.namespace}:${SUBJECT.name}`;

type Rule = { apiGroups?: string[]; resources?: string[]; verbs: string[]; nonResourceURLs?: string[] };
type Container = {
  name: string;
  args?: string[];
  command?: string[];
  image: string;
  ports?: Array<{ name?: string; containerPort: number }>;
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
};

/** Server-side apply of one object, strict about unknown fields; dry run unless `real`. */
async function apply(client: ClusterClient, object: KubeObject, real = false): Promise<KubeObject> {
  const obj = deepClone(object);
  const resource = await resourceOrFail(client, obj);
  scopeNamespace(obj, resource);
  const path = ClusterClient.pathOf(resource, obj.metadata.namespace, obj.metadata.name);
  const query = `?fieldManager=flotilla-deploy-test&force=true&fieldValidation=Strict${real ? "" : "&dryRun=All"}`;
  return (
    await client.request<KubeObject>("PATCH", `${path}${query}`, obj, { contentType: "application/apply-patch+yaml" })
  ).body;
}

describe("deploy/: what installs Flotilla on a management cluster", () => {
  let harness: Harness;
  let client: ClusterClient;
  const objects = render(new DiskTree(ROOT), "deploy");
  const crds = objects.filter((o) => o.kind === "CustomResourceDefinition");
  const namespaces = objects.filter((o) => o.kind === "Namespace");
  const rest = objects.filter((o) => o.kind !== "CustomResourceDefinition" && o.kind !== "Namespace");
  const byKind = (kind: string) => objects.filter((o) => o.kind === kind);

  beforeAll(async () => {
    harness = await startHarness({ profile: "apiserver", clusters: ["mgmt"] });
    client = ClusterClient.fromKubeconfig(harness.get("mgmt")!.kubeconfig);
  }, 120_000);
  afterAll(async () => {
    client?.close();
    await harness?.stop();
  });

  it("renders the Namespace, ServiceAccount, RBAC, CRDs, Deployment, PodDisruptionBudget and Service", () => {
    expect(objects.map((o) => o.kind).sort()).toEqual(
      [
        "PodDisruptionBudget",
        "Role",
        "RoleBinding",
        "ClusterRole",
        "ClusterRole",
        "ClusterRole",
        "ClusterRoleBinding",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "CustomResourceDefinition",
        "CustomResourceDefinition",
        "CustomResourceDefinition",
        "CustomResourceDefinition",
        "Deployment",
        "Namespace",
        "Service",
        "ServiceAccount",
      ].sort(),
    );
    expect(crds.map((o) => o.metadata.name).sort()).toEqual([
      "clusters.cluster.x-k8s.io",
      "gitrepositories.source.toolkit.fluxcd.io",
      "kustomizations.kustomize.toolkit.fluxcd.io",
      "localclusters.infrastructure.cluster.x-k8s.io",
      "rollouts.flotilla.dev",
    ]);
    for (const o of objects.filter((x) => x.kind !== "Namespace" && !x.metadata.namespace))
      expect(["CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"]).toContain(o.kind);
  });

  it("is accepted by a real apiserver: CRDs and the Namespace applied, every other object in a strict server-side dry run", async () => {
    for (const ns of namespaces) await apply(client, ns); // dry run first: the Namespace itself is valid
    await applyUnit(client, {
      unit: { name: "flotilla", namespace: "flux-system" },
      objects: [...crds, ...namespaces],
      prune: false,
      wait: true,
      timeoutMs: 60_000,
    });
    const refused: string[] = [];
    // This apiserver (1.20) serves PodDisruptionBudget only as policy/v1beta1; policy/v1 (1.21+, the only one from 1.25) has the same fields.
    const served = async (o: KubeObject) =>
      o.apiVersion === "policy/v1" && !(await client.resourceOf(o))
        ? { ...deepClone(o), apiVersion: "policy/v1beta1" }
        : o;
    for (const o of rest) {
      try {
        const dry = await apply(client, await served(o));
        expect(dry.metadata.uid ?? dry.metadata.name).toBeTruthy();
      } catch (error) {
        refused.push(`${objectRef(o)}: ${(error as Error).message}`);
      }
    }
    expect(refused).toEqual([]);
    // A dry run wrote nothing.
    expect(
      (
        await client.request("GET", "/apis/apps/v1/namespaces/flux-system/deployments/flotilla-controller", undefined, {
          allow: [404],
        })
      ).status,
    ).toBe(404);
    // And the check is strict: a misspelled field is refused, naming it.
    const typo = deepClone(byKind("Deployment")[0]!) as KubeObject & {
      spec: { template: { spec: { containers: Array<Record<string, unknown>> } } };
    };
    typo.spec.template.spec.containers[0]!.readinesProbe = { httpGet: { path: "/readyz", port: "http" } };
    await expect(apply(client, typo)).rejects.toThrow(/readinesProbe/);
  });

  it("grants no `*` verb, no `*` resource in a `*` group, and no cluster-wide write to Secrets", () => {
    const rules = byKind("ClusterRole").flatMap((r) =>
      ((r as unknown as { rules?: Rule[] }).rules ?? []).map((rule) => ({ role: r.metadata.name, ...rule })),
    );
    expect(rules.length).toBeGreaterThan(5);
    for (const rule of rules) {
      expect(rule.verbs, `${rule.role}: ${JSON.stringify(rule)}`).not.toContain("*");
      expect(rule.apiGroups ?? [], `${rule.role}: ${JSON.stringify(rule)}`).not.toContain("*");
      expect(rule.nonResourceURLs, `${rule.role}`).toBeUndefined();
      if ((rule.resources ?? []).includes("*"))
        expect(
          rule.apiGroups!.every((g) => g.endsWith("cluster.x-k8s.io")),
          `${rule.role}: '*' resources only in Cluster API groups`,
        ).toBe(true);
      if ((rule.apiGroups ?? []).includes("") && (rule.resources ?? []).some((r) => r === "secrets" || r === "*"))
        expect(
          rule.verbs.filter((v) => !["get", "list", "watch"].includes(v)),
          `${rule.role} writes Secrets`,
        ).toEqual([]);
      if (
        (rule.resources ?? []).some((r) => ["clusterroles", "clusterrolebindings", "roles", "rolebindings"].includes(r))
      )
        expect(rule.verbs).not.toContain("escalate");
    }
    // Only the controller's ServiceAccount is bound.
    for (const b of byKind("ClusterRoleBinding"))
      expect((b as unknown as { subjects: unknown[] }).subjects).toEqual([SUBJECT]);
  });

  it("lets the controller's ServiceAccount do what the controller does, and not more (SubjectAccessReview with the RBAC applied)", async () => {
    for (const o of [
      ...byKind("ServiceAccount"),
      ...byKind("ClusterRole"),
      ...byKind("ClusterRoleBinding"),
      ...byKind("Role"),
      ...byKind("RoleBinding"),
    ])
      await apply(client, o, true);
    const can = async (verb: string, group: string, resource: string, namespace?: string, subresource?: string) => {
      const review = {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SubjectAccessReview",
        spec: {
          user: SA_USER,
          groups: ["system:serviceaccounts", `system:serviceaccounts:${SUBJECT.namespace}`, "system:authenticated"],
          resourceAttributes: {
            verb,
            group,
            resource,
            ...(namespace ? { namespace } : {}),
            ...(subresource ? { subresource } : {}),
          },
        },
      };
      const res = await client.request<{ status: { allowed: boolean } }>(
        "POST",
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        review,
      );
      return res.body.status.allowed;
    };
    const allowed: Array<[string, string, string, string?, string?]> = [
      ["watch", "kustomize.toolkit.fluxcd.io", "kustomizations"],
      ["patch", "kustomize.toolkit.fluxcd.io", "kustomizations", "prod-eu-west-1"],
      ["patch", "kustomize.toolkit.fluxcd.io", "kustomizations", "prod-eu-west-1", "status"],
      ["list", "source.toolkit.fluxcd.io", "gitrepositories"],
      ["patch", "source.toolkit.fluxcd.io", "gitrepositories", "flux-system", "status"],
      ["create", "source.toolkit.fluxcd.io", "gitrepositories", "flux-system"],
      ["watch", "", "secrets"],
      ["get", "", "configmaps", "tenants"],
      ["create", "", "events", "prod-eu-west-1"],
      ["list", "cluster.x-k8s.io", "clusters"],
      ["watch", "flotilla.dev", "rollouts"],
      ["patch", "flotilla.dev", "rollouts", "flux-system", "status"],
      // To act as a unit's service account (spec.serviceAccountName, --default-service-account).
      ["impersonate", "", "serviceaccounts", "tenant-a"],
      // The replicas' Leases, in the controller's namespace.
      ...(["get", "list", "watch", "create", "update", "delete"] as const).map(
        (verb): [string, string, string, string] => [verb, "coordination.k8s.io", "leases", "flux-system"],
      ),
    ];
    for (const [verb, group, resource, ns, sub] of allowed)
      expect(await can(verb, group, resource, ns, sub), `${verb} ${group}/${resource}${sub ? `/${sub}` : ""}`).toBe(
        true,
      );
    const denied: Array<[string, string, string, string?, string?]> = [
      ["create", "", "secrets", "flux-system"],
      ["delete", "", "pods", "kube-system"],
      ["create", "rbac.authorization.k8s.io", "clusterrolebindings"],
      ["escalate", "rbac.authorization.k8s.io", "clusterroles"],
      ["impersonate", "", "users"],
      ["impersonate", "", "groups"],
      ["create", "", "pods", "flux-system", "exec"],
      ["delete", "apiextensions.k8s.io", "customresourcedefinitions"],
      // Leases elsewhere (kube-system's leader elections, node heartbeats) are not the controller's.
      ["update", "coordination.k8s.io", "leases", "kube-system"],
      ["create", "coordination.k8s.io", "leases", "kube-node-lease"],
    ];
    for (const [verb, group, resource, ns, sub] of denied)
      expect(await can(verb, group, resource, ns, sub), `${verb} ${group}/${resource}`).toBe(false);
  });

  const controllerContainer = () => {
    const deployment = byKind("Deployment")[0] as KubeObject & {
      spec: { template: { spec: { serviceAccountName: string; containers: Container[] } } };
    };
    return { pod: deployment.spec.template.spec, c: deployment.spec.template.spec.containers[0]! };
  };

  it("runs `flotilla controller` from the image's entry point, probed on the port it listens on", () => {
    const { pod, c } = controllerContainer();
    expect(pod.serviceAccountName).toBe("flotilla");
    expect(pod.containers).toHaveLength(1);
    expect(c.command).toBeUndefined(); // the image's ENTRYPOINT is the flotilla CLI
    const dockerfile = readFileSync(join(ROOT, "deploy", "Dockerfile"), "utf8");
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "\/app\/dist\/src\/cli\/main\.js"\]$/m);
    expect(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).bin.flotilla).toBe("dist/src/cli/main.js");
    expect(c.args?.[0]).toBe("controller");
    // The probes hit the HTTP server's paths on the port `--listen` names.
    const http = c.ports?.find((p) => p.name === "http");
    const listen = c.args!.find((a) => a.startsWith("--listen="));
    expect(listen && http && parseListenAddress(listen.slice("--listen=".length)).port === http.containerPort).toBe(
      true,
    );
    expect([c.readinessProbe?.httpGet, c.livenessProbe?.httpGet]).toEqual([
      { path: "/readyz", port: "http" },
      { path: "/healthz", port: "http" },
    ]);
  });

  it("runs 2 replicas with a RollingUpdate, a PodDisruptionBudget, and each replica named by its pod (downward API)", () => {
    const deployment = byKind("Deployment")[0] as KubeObject & {
      spec: {
        replicas: number;
        strategy: { type: string; rollingUpdate?: { maxUnavailable?: number } };
        selector: unknown;
      };
    };
    expect(deployment.spec.replicas).toBe(2);
    expect(deployment.spec.strategy.type).toBe("RollingUpdate");
    expect(deployment.spec.strategy.rollingUpdate?.maxUnavailable).toBe(0);
    const pdb = byKind("PodDisruptionBudget")[0] as KubeObject & { spec: { minAvailable: number; selector: unknown } };
    expect(pdb.spec.minAvailable).toBe(1);
    expect(pdb.spec.selector).toEqual(deployment.spec.selector);
    const { c } = controllerContainer();
    const env = (c as Container & { env: Array<{ name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }> })
      .env;
    expect(env.find((e) => e.name === "POD_NAME")?.valueFrom?.fieldRef?.fieldPath).toBe("metadata.name");
    expect(env.find((e) => e.name === "POD_NAMESPACE")?.valueFrom?.fieldRef?.fieldPath).toBe("metadata.namespace");
    expect(c.args).toContain("--lease-namespace=$(POD_NAMESPACE)");
  });

  it("passes only flags that `flotilla controller` accepts (it gets as far as reading the missing kubeconfig)", async () => {
    const { c } = controllerContainer();
    // As the kubelet expands $(VAR) from the container's env (downward API values of a pod).
    const pod: Record<string, string> = { POD_NAMESPACE: "flux-system", POD_NAME: "flotilla-controller-7d9f8-abcde" };
    const args = c.args!.slice(1).map((a) => a.replace(/\$\((\w+)\)/g, (_, v: string) => pod[v] ?? `$(${v})`));
    await expect(runController([...args, "--kubeconfig", "/nonexistent/flotilla-deploy-test"])).rejects.toThrow(
      /kubeconfig '\/nonexistent\/flotilla-deploy-test' does not exist/,
    );
  });
});
