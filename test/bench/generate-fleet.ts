import { MemoryTree } from "../../src/core/file-tree.js";

/**
 * An in-memory platform repository of `clusters` workload clusters in convention layout: 8
 * features (one an operator with a CRD whose custom resource every environment's `common` uses),
 * 2 providers × 3 environments, a tenant per environment, and a Cluster API Cluster per cluster
 * under mgmt. `variant` changes one shared feature, for diff benchmarks.
 */
export function generateFleet(clusters: number, variant = 0): MemoryTree {
  const files: Array<[string, string]> = [];
  const features = [
    "access-control",
    "ingress-nginx",
    "cert-manager",
    "monitoring",
    "logging",
    "policy",
    "backup",
    "hello-operator",
  ];
  for (const f of features) {
    files.push([
      `features/${f}/non-namespaced/namespace.yaml`,
      `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${f}\n`,
    ]);
    files.push([
      `features/${f}/namespaced/deployment.yaml`,
      `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ${f}\n  namespace: ${f}\nspec:\n  replicas: ${f === "monitoring" ? 1 + variant : 1}\n  selector:\n    matchLabels:\n      app: ${f}\n  template:\n    metadata:\n      labels:\n        app: ${f}\n    spec:\n      containers:\n      - name: main\n        image: example.com/${f}:1.0.0\n`,
    ]);
  }
  files.push([
    "features/hello-operator/non-namespaced/crd.yaml",
    "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: hellos.example.com\nspec:\n  group: example.com\n  names:\n    kind: Hello\n    plural: hellos\n  scope: Namespaced\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        type: object\n        x-kubernetes-preserve-unknown-fields: true\n",
  ]);
  const providers = ["aws/v1", "gcp/v1"];
  const envs = ["dev", "staging", "prod"];
  for (const p of providers) {
    for (const env of envs) {
      files.push([
        `providers/${p}/clusters/${env}/common/hello.yaml`,
        `apiVersion: example.com/v1\nkind: Hello\nmetadata:\n  name: hello\n  namespace: hello-operator\nspec:\n  env: ${env}\n`,
      ]);
    }
    files.push([
      `tenants/${p.split("/")[0]}/common/team/ns.yaml`,
      "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n",
    ]);
    for (const env of envs)
      files.push([
        `tenants/${p.split("/")[0]}/${env}/team/quota.yaml`,
        `apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: q\n  namespace: team\nspec:\n  hard:\n    pods: "10"\n`,
      ]);
  }
  const mgmt: string[] = [];
  for (let i = 0; i < clusters; i++) {
    const p = providers[i % providers.length]!;
    const env = envs[Math.floor(i / providers.length) % envs.length]!;
    const name = `${env}-${p.split("/")[0]}-${i}`;
    files.push([
      `providers/${p}/clusters/${env}/${name}/info.yaml`,
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cluster-info\n  namespace: kube-system\ndata:\n  name: ${name}\n`,
    ]);
    mgmt.push(
      `apiVersion: cluster.x-k8s.io/v1beta1\nkind: Cluster\nmetadata:\n  name: ${name}\n  namespace: ${name}\nspec: {}\n`,
    );
  }
  for (const p of providers)
    files.push([
      `providers/${p}/mgmt/clusters.yaml`,
      mgmt.filter((_, i) => providers[i % providers.length] === p).join("---\n"),
    ]);
  files.push([
    "flotilla.yaml",
    "sources:\n  url: https://example.com/platform.git\n  release:\n    tag: v1.0.0\nmanagement:\n  provider: aws/v1\n",
  ]);
  return new MemoryTree("generated", files);
}

/**
 * The unit names of a cluster in the `fleet` bench: 7, as in propagation (3 features, common, the
 * cluster's own folder, 2 tenant layers), with the path each renders and the unit it depends on.
 */
export const SEPARATED_UNITS: ReadonlyArray<{ name: string; path: (cluster: string) => string; dependsOn?: string }> = [
  { name: "feature-alpha", path: () => "features/alpha" },
  { name: "feature-beta", path: () => "features/beta" },
  { name: "feature-gamma", path: () => "features/gamma" },
  { name: "common", path: () => "providers/local/v1/clusters/non-prod/common" },
  { name: "cluster", path: (c) => `providers/local/v1/clusters/non-prod/${c}`, dependsOn: "common" },
  { name: "tenants-common", path: () => "tenants/local/common/team" },
  { name: "tenants-non-prod", path: () => "tenants/local/non-prod/team", dependsOn: "tenants-common" },
];

/**
 * The repository of the `fleet` bench (simulated-separation: many clusters share one apiserver):
 * propagation's fleet, with every namespace prefixed by the cluster's name through Flux
 * substitution (`${cluster_name}-alpha`), so that two clusters served by one apiserver never share
 * a namespace or an object. `colour` is the shared feature `alpha`'s value, changed by a commit.
 */
export function separatedFleetFiles(clusters: readonly string[], colour: string): Record<string, string> {
  const ns = (suffix: string) => `\${cluster_name}-${suffix}`;
  const files: Record<string, string> = {};
  for (const f of ["alpha", "beta", "gamma"]) {
    files[`features/${f}/config.yaml`] =
      `apiVersion: v1\nkind: Namespace\nmetadata: {name: "${ns(f)}"}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${f}, namespace: "${ns(f)}"}\ndata: {colour: ${f === "alpha" ? colour : "blue"}}\n`;
  }
  files["providers/local/v1/clusters/non-prod/common/settings.yaml"] =
    `apiVersion: v1\nkind: Namespace\nmetadata: {name: "${ns("system")}"}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: common, namespace: "${ns("system")}"}\ndata: {tier: non-prod}\n`;
  files["tenants/local/common/team/namespace.yaml"] =
    `apiVersion: v1\nkind: Namespace\nmetadata: {name: "${ns("team")}"}\n`;
  files["tenants/local/non-prod/team/quota.yaml"] =
    `apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: team, namespace: "${ns("team")}"}\nspec: {hard: {pods: '20'}}\n`;
  for (const c of clusters) {
    files[`providers/local/v1/clusters/non-prod/${c}/info.yaml`] =
      `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cluster-info, namespace: "${ns("system")}"}\ndata: {cluster: "\${cluster_name}"}\n`;
  }
  return files;
}
