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

function defaultProtocol(ports: unknown): void {
  if (!Array.isArray(ports)) return;
  for (const p of ports) if (isPlainObject(p) && p.protocol === undefined) p.protocol = "TCP";
}

/**
 * Sets the defaults server-side apply needs on native kinds, as Flux's ssa package does: ports
 * are a list keyed by port and protocol, and apiservers before 1.21 reject an entry without
 * `protocol` ("associative list with keys has an element that omits key field"). Mutates `obj`.
 */
export function setNativeDefaults(obj: KubeObject): KubeObject {
  if (obj.kind === "Service" && isPlainObject(obj.spec)) defaultProtocol(obj.spec.ports);
  const path = POD_TEMPLATE_PATHS[obj.kind];
  if (path) {
    let node: unknown = obj;
    for (const key of path) node = isPlainObject(node) ? node[key] : undefined;
    if (isPlainObject(node)) {
      for (const list of ["containers", "initContainers", "ephemeralContainers"]) {
        const containers = node[list];
        if (Array.isArray(containers)) for (const c of containers) if (isPlainObject(c)) defaultProtocol(c.ports);
      }
    }
  }
  return obj;
}
