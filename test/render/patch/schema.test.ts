import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../../src/core/errors.js";
import { builtinSchema, withOpenApi, type GroupVersionKind, type ListMerge } from "../../../src/render/patch/schema.js";

const gvk = (apiVersion: string, kind: string): GroupVersionKind => {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  return { group: group!, version: version!, kind };
};
const POD = ["spec", "template", "spec"];
const CRONJOB_POD = ["spec", "jobTemplate", "spec", "template", "spec"];
const merge = (...keys: string[]): ListMerge =>
  keys.length ? { strategy: "merge", key: keys[0]!, keys } : { strategy: "merge" };

// The Kubernetes types' patchMergeKey / patchStrategy tags, as kustomize v5.5's schema holds them.
describe("builtinSchema gives the built-in kinds' merge keys", () => {
  const cases: Array<[string, string, string[], ListMerge | undefined]> = [
    ["apps/v1", "Deployment", [...POD, "containers"], merge("name")],
    ["apps/v1", "Deployment", [...POD, "initContainers"], merge("name")],
    ["apps/v1", "Deployment", [...POD, "ephemeralContainers"], merge("name")],
    ["apps/v1", "Deployment", [...POD, "containers", "env"], merge("name")],
    ["apps/v1", "Deployment", [...POD, "containers", "ports"], merge("containerPort", "protocol")],
    ["apps/v1", "Deployment", [...POD, "containers", "volumeMounts"], merge("mountPath")],
    ["apps/v1", "Deployment", [...POD, "containers", "volumeDevices"], merge("devicePath")],
    ["apps/v1", "Deployment", [...POD, "volumes"], merge("name")],
    ["apps/v1", "Deployment", [...POD, "imagePullSecrets"], merge("name")],
    ["apps/v1", "Deployment", [...POD, "hostAliases"], merge("ip")],
    ["apps/v1", "Deployment", [...POD, "topologySpreadConstraints"], merge("topologyKey", "whenUnsatisfiable")],
    ["apps/v1", "Deployment", ["metadata", "finalizers"], merge()],
    ["apps/v1", "Deployment", ["metadata", "ownerReferences"], merge("uid")],
    ["apps/v1", "Deployment", ["status", "conditions"], merge("type")],
    ["apps/v1", "StatefulSet", [...POD, "containers"], merge("name")],
    ["apps/v1", "DaemonSet", [...POD, "containers", "env"], merge("name")],
    ["apps/v1", "ReplicaSet", [...POD, "volumes"], merge("name")],
    ["batch/v1", "Job", [...POD, "containers"], merge("name")],
    ["batch/v1", "CronJob", [...CRONJOB_POD, "containers"], merge("name")],
    ["batch/v1beta1", "CronJob", [...CRONJOB_POD, "initContainers", "env"], merge("name")],
    ["v1", "Pod", ["spec", "containers"], merge("name")],
    ["v1", "PodTemplate", ["template", "spec", "containers"], merge("name")],
    ["v1", "Service", ["spec", "ports"], merge("port", "protocol")],
    ["v1", "Node", ["status", "addresses"], merge("type")],
    ["v1", "ServiceAccount", ["secrets"], merge("name")],
    ["admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration", ["webhooks"], merge("name")],
    ["admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", ["webhooks"], merge("name")],
    ["v1", "ConfigMap", ["metadata", "finalizers"], merge()],
    ["rbac.authorization.k8s.io/v1", "ClusterRole", ["metadata", "ownerReferences"], merge("uid")],
    // Lists without a patch strategy are replaced whole.
    ["apps/v1", "Deployment", [...POD, "tolerations"], undefined],
    ["apps/v1", "Deployment", [...POD, "containers", "args"], undefined],
    ["apps/v1", "Deployment", [...POD, "containers", "command"], undefined],
    ["apps/v1", "StatefulSet", ["spec", "volumeClaimTemplates"], undefined],
    ["apps/v1", "Deployment", ["spec", "selector", "matchExpressions"], undefined],
    ["rbac.authorization.k8s.io/v1", "ClusterRole", ["rules"], undefined],
    ["rbac.authorization.k8s.io/v1", "RoleBinding", ["subjects"], undefined],
    ["networking.k8s.io/v1", "Ingress", ["spec", "rules"], undefined],
    ["networking.k8s.io/v1", "NetworkPolicy", ["spec", "ingress"], undefined],
    ["apiextensions.k8s.io/v1", "CustomResourceDefinition", ["spec", "versions"], undefined],
    // Unknown kinds and versions kustomize's schema lacks have no merge keys.
    ["example.com/v1", "Widget", ["spec", "containers"], undefined],
    ["apps/v1beta1", "Deployment", [...POD, "containers"], undefined],
    ["apps/v1", "Deployment", ["spec", "nosuch", "containers"], undefined],
  ];
  for (const [apiVersion, kind, path, expected] of cases) {
    it(`${apiVersion} ${kind} ${path.join(".")}: ${expected ? `merge by ${expected.keys?.join("+") ?? "value"}` : "replace"}`, () => {
      expect(builtinSchema.listMergeKey(gvk(apiVersion, kind), path)).toStrictEqual(expected);
    });
  }

  it("says which kinds it knows", () => {
    expect(builtinSchema.knowsKind?.(gvk("apps/v1", "Deployment"))).toBe(true);
    expect(builtinSchema.knowsKind?.(gvk("v1", "Secret"))).toBe(true);
    expect(builtinSchema.knowsKind?.(gvk("example.com/v1", "Widget"))).toBe(false);
  });
});

describe("withOpenApi reads a kustomization's OpenAPI document", () => {
  const doc = {
    definitions: {
      "com.example.v1.Widget": {
        type: "object",
        "x-kubernetes-group-version-kind": [{ group: "example.com", version: "v1", kind: "Widget" }],
        properties: { spec: { $ref: "#/definitions/com.example.v1.WidgetSpec" } },
      },
      "com.example.v1.WidgetSpec": {
        type: "object",
        properties: {
          items: {
            type: "array",
            items: { $ref: "#/definitions/com.example.v1.Item" },
            "x-kubernetes-patch-merge-key": "name",
            "x-kubernetes-patch-strategy": "merge",
          },
          ports: {
            type: "array",
            items: { type: "object" },
            "x-kubernetes-patch-merge-key": "port",
            "x-kubernetes-list-map-keys": ["port", "protocol"],
            "x-kubernetes-patch-strategy": "merge",
          },
          tags: { type: "array", items: { type: "string" }, "x-kubernetes-patch-strategy": "merge" },
          plain: { type: "array", items: { type: "object" } },
          replaced: {
            type: "array",
            items: { type: "object" },
            "x-kubernetes-patch-merge-key": "id",
            "x-kubernetes-patch-strategy": "replace",
          },
          inline: {
            type: "object",
            properties: {
              rows: {
                type: "array",
                items: { type: "object" },
                "x-kubernetes-patch-merge-key": "row",
                "x-kubernetes-patch-strategy": "merge",
              },
            },
          },
          byName: {
            type: "object",
            additionalProperties: {
              type: "object",
              properties: {
                hosts: {
                  type: "array",
                  "x-kubernetes-patch-merge-key": "host",
                  "x-kubernetes-patch-strategy": "merge,retainKeys",
                },
              },
            },
          },
          alias: { $ref: "#/definitions/com.example.v1.ItemList" },
        },
      },
      "com.example.v1.Item": {
        type: "object",
        properties: {
          subs: {
            type: "array",
            items: { type: "object" },
            "x-kubernetes-patch-merge-key": "id",
            "x-kubernetes-patch-strategy": "merge",
          },
        },
      },
      "com.example.v1.ItemList": {
        type: "array",
        items: { type: "object" },
        "x-kubernetes-patch-merge-key": "uid",
        "x-kubernetes-patch-strategy": "merge",
      },
    },
  };
  const widget = gvk("example.com/v1", "Widget");
  const schema = withOpenApi(builtinSchema, doc, "schema.json");

  it("gives a custom kind the merge key of its definitions, following $ref into list items", () => {
    expect(schema.listMergeKey(widget, ["spec", "items"])).toStrictEqual(merge("name"));
    expect(schema.listMergeKey(widget, ["spec", "items", "subs"])).toStrictEqual(merge("id"));
  });

  it("takes x-kubernetes-list-map-keys over the single merge key", () => {
    expect(schema.listMergeKey(widget, ["spec", "ports"])).toStrictEqual(merge("port", "protocol"));
  });

  it("merges a list of scalars with a merge strategy as a set and replaces lists without one", () => {
    expect(schema.listMergeKey(widget, ["spec", "tags"])).toStrictEqual(merge());
    expect(schema.listMergeKey(widget, ["spec", "plain"])).toBeUndefined();
    expect(schema.listMergeKey(widget, ["spec", "replaced"])).toStrictEqual({
      strategy: "replace",
      key: "id",
      keys: ["id"],
    });
  });

  it("reads inline object schemas, map values (additionalProperties) and a $ref to an array definition", () => {
    expect(schema.listMergeKey(widget, ["spec", "inline", "rows"])).toStrictEqual(merge("row"));
    expect(schema.listMergeKey(widget, ["spec", "byName", "any-key", "hosts"])).toStrictEqual(merge("host"));
    expect(schema.listMergeKey(widget, ["spec", "alias"])).toStrictEqual(merge("uid"));
  });

  it("replaces the schema in effect, as kustomize does: built-in kinds lose their merge keys", () => {
    expect(schema.knowsKind?.(widget)).toBe(true);
    expect(schema.knowsKind?.(gvk("apps/v1", "Deployment"))).toBe(false);
    expect(schema.listMergeKey(gvk("apps/v1", "Deployment"), [...POD, "containers"])).toBeUndefined();
  });

  it("refuses a document without definitions, naming the file", () => {
    expect(() => withOpenApi(builtinSchema, { swagger: "2.0" }, "schema.json")).toThrow(InvalidInputError);
    try {
      withOpenApi(builtinSchema, [], "schema.json");
    } catch (error) {
      expect((error as InvalidInputError).location).toMatchObject({ file: "schema.json", field: "definitions" });
    }
  });

  it("refuses a $ref to a definition that does not exist, naming where it is", () => {
    const broken = {
      definitions: {
        "x.W": {
          "x-kubernetes-group-version-kind": [{ group: "x", version: "v1", kind: "W" }],
          properties: { spec: { $ref: "#/definitions/x.Missing" } },
        },
      },
    };
    expect(() => withOpenApi(builtinSchema, broken, "schema.json")).toThrow(
      /'#\/definitions\/x.Missing' names no definition/,
    );
  });
});
