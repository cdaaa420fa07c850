import { isPlainObject, type KubeObject } from "../core/object.js";

const POD_TEMPLATE_PATHS: Record<string, string[]> = {
  Pod: ["spec"],
  Deployment: ["spec", "template", "spec"],
  ReplicaSet: ["spec", "template", "spec"],
  StatefulSet: ["spec", "template", "spec"],
  DaemonSet: ["spec", "template", "spec"],
  Job: ["spec", "template", "spec"],
  CronJob: ["spec", "jobTemplate", "spec", "template", "spec"],
};

const CONTAINER_LISTS = ["containers", "initContainers", "ephemeralContainers"];

function defaultProtocol(ports: unknown): void {
  if (!Array.isArray(ports)) return;
  for (const p of ports) if (isPlainObject(p) && p.protocol === undefined) p.protocol = "TCP";
}

function at(node: unknown, path: readonly string[]): unknown {
  for (const key of path) node = isPlainObject(node) ? node[key] : undefined;
  return node;
}

/** A quantity written as a YAML number (`pods: 20`, `cpu: 0.5`), as the string the apiserver's typed decoding makes of it. */
function quantityText(value: unknown): unknown {
  return typeof value === "number" && Number.isFinite(value) ? String(value) : value;
}

/** Every value of a map of quantities (`hard`, `limits`, `requests`, `capacity`) as a string. */
function quantityMap(map: unknown): void {
  if (isPlainObject(map)) for (const [k, v] of Object.entries(map)) map[k] = quantityText(v);
}

function quantityField(parent: unknown, key: string): void {
  if (isPlainObject(parent) && key in parent) parent[key] = quantityText(parent[key]);
}

function resourceRequirements(resources: unknown): void {
  quantityMap(at(resources, ["limits"]));
  quantityMap(at(resources, ["requests"]));
}

function podSpecQuantities(spec: Record<string, unknown>): void {
  for (const list of CONTAINER_LISTS) {
    const containers = spec[list];
    if (Array.isArray(containers)) for (const c of containers) if (isPlainObject(c)) resourceRequirements(c.resources);
  }
  quantityMap(spec.overhead);
  if (Array.isArray(spec.volumes)) {
    for (const v of spec.volumes) {
      quantityField(at(v, ["emptyDir"]), "sizeLimit");
      resourceRequirements(at(v, ["ephemeral", "volumeClaimTemplate", "spec", "resources"]));
    }
  }
}

function metricTargets(metrics: unknown): void {
  if (!Array.isArray(metrics)) return;
  for (const m of metrics) {
    for (const source of ["resource", "containerResource", "pods", "object", "external"]) {
      const target = at(m, [source, "target"]);
      quantityField(target, "value");
      quantityField(target, "averageValue");
    }
  }
}

/**
 * Quantities the manifest wrote as numbers become strings. Flux's ssa package sends native kinds
 * through their typed Go structs, which turns `pods: 20` into `"20"`; sent as a number, server-side
 * apply on apiservers before 1.21 rejects the object ("failed to create typed patch object:
 * .spec.hard.pods: expected string, got &value.valueUnstructured{Value:20}").
 */
function setQuantities(obj: KubeObject): void {
  const spec = obj.spec;
  if (!isPlainObject(spec) || !obj.apiVersion) return;
  const core = obj.apiVersion === "v1";
  if (core && obj.kind === "ResourceQuota") quantityMap(spec.hard);
  if (core && obj.kind === "LimitRange" && Array.isArray(spec.limits)) {
    for (const l of spec.limits)
      if (isPlainObject(l))
        for (const k of ["max", "min", "default", "defaultRequest", "maxLimitRequestRatio"]) quantityMap(l[k]);
  }
  if (core && obj.kind === "PersistentVolumeClaim") resourceRequirements(spec.resources);
  if (core && obj.kind === "PersistentVolume") quantityMap(spec.capacity);
  if (obj.kind === "StatefulSet" && Array.isArray(spec.volumeClaimTemplates))
    for (const t of spec.volumeClaimTemplates) resourceRequirements(at(t, ["spec", "resources"]));
  if (obj.kind === "HorizontalPodAutoscaler" && obj.apiVersion.startsWith("autoscaling/")) metricTargets(spec.metrics);
  const path = POD_TEMPLATE_PATHS[obj.kind];
  const podSpec = path && (core || /^(apps|batch)\//.test(obj.apiVersion)) ? at(obj, path) : undefined;
  if (isPlainObject(podSpec)) podSpecQuantities(podSpec);
}

/**
 * Sets the defaults server-side apply needs on native kinds, as Flux's ssa package does: ports
 * are a list keyed by port and protocol, and apiservers before 1.21 reject an entry without
 * `protocol` ("associative list with keys has an element that omits key field"); quantities
 * written as numbers are sent as strings. Mutates `obj`.
 */
export function setNativeDefaults(obj: KubeObject): KubeObject {
  if (obj.kind === "Service" && isPlainObject(obj.spec)) defaultProtocol(obj.spec.ports);
  const path = POD_TEMPLATE_PATHS[obj.kind];
  if (path) {
    const node = at(obj, path);
    if (isPlainObject(node)) {
      for (const list of CONTAINER_LISTS) {
        const containers = node[list];
        if (Array.isArray(containers)) for (const c of containers) if (isPlainObject(c)) defaultProtocol(c.ports);
      }
    }
  }
  setQuantities(obj);
  return obj;
}
