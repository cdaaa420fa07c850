import type { KubeObject } from "../core/object.js";

/** kstatus' verdict on one object. */
export interface Health {
  status: "Current" | "InProgress" | "Failed";
  message: string;
}

type Cond = { type: string; status: string; reason?: string; message?: string };
const conditions = (o: KubeObject): Cond[] => (o.status as { conditions?: Cond[] } | undefined)?.conditions ?? [];
const cond = (o: KubeObject, type: string) => conditions(o).find((c) => c.type === type);
const num = (v: unknown) => (typeof v === "number" ? v : 0);

/**
 * The health of an object from its status alone, by kstatus' rules: workloads rolled out (observed
 * generation, updated/ready/available replicas), Jobs complete, CRDs established, Namespaces
 * active, PVCs bound, LoadBalancer Services with an address, and anything with a `Ready`
 * condition ready. Kinds without status rules are Current.
 */
export function healthOf(o: KubeObject): Health {
  const status = (o.status ?? {}) as Record<string, unknown>;
  const generation = typeof o.metadata.generation === "number" ? o.metadata.generation : undefined;
  if (
    generation !== undefined &&
    typeof status.observedGeneration === "number" &&
    status.observedGeneration < generation
  ) {
    return { status: "InProgress", message: `generation ${generation} not observed yet` };
  }
  const spec = (o.spec ?? {}) as Record<string, unknown>;
  switch (o.kind) {
    case "Deployment": {
      const want = typeof spec.replicas === "number" ? spec.replicas : 1;
      if (cond(o, "Progressing")?.reason === "ProgressDeadlineExceeded")
        return { status: "Failed", message: "progress deadline exceeded" };
      if (num(status.updatedReplicas) < want)
        return { status: "InProgress", message: `${num(status.updatedReplicas)} of ${want} replicas updated` };
      if (num(status.replicas) > num(status.updatedReplicas))
        return {
          status: "InProgress",
          message: `${num(status.replicas) - num(status.updatedReplicas)} old replicas pending termination`,
        };
      if (num(status.availableReplicas) < want)
        return { status: "InProgress", message: `${num(status.availableReplicas)} of ${want} replicas available` };
      return { status: "Current", message: `${want} replicas available` };
    }
    case "StatefulSet": {
      const want = typeof spec.replicas === "number" ? spec.replicas : 1;
      if (num(status.readyReplicas) < want)
        return { status: "InProgress", message: `${num(status.readyReplicas)} of ${want} replicas ready` };
      if (status.updateRevision && status.currentRevision !== status.updateRevision)
        return { status: "InProgress", message: "rolling update in progress" };
      return { status: "Current", message: `${want} replicas ready` };
    }
    case "DaemonSet": {
      const want = num(status.desiredNumberScheduled);
      if (num(status.updatedNumberScheduled) < want || num(status.numberAvailable) < want)
        return { status: "InProgress", message: `${num(status.numberAvailable)} of ${want} pods available` };
      return { status: "Current", message: `${want} pods available` };
    }
    case "ReplicaSet": {
      const want = typeof spec.replicas === "number" ? spec.replicas : 1;
      return num(status.availableReplicas) < want
        ? { status: "InProgress", message: `${num(status.availableReplicas)} of ${want} available` }
        : { status: "Current", message: "available" };
    }
    case "Job": {
      if (cond(o, "Failed")?.status === "True")
        return { status: "Failed", message: cond(o, "Failed")?.message ?? "job failed" };
      if (cond(o, "Complete")?.status === "True") return { status: "Current", message: "job complete" };
      return { status: "InProgress", message: `${num(status.succeeded)} succeeded, ${num(status.active)} active` };
    }
    case "CustomResourceDefinition":
      if (cond(o, "NamesAccepted")?.status === "False")
        return { status: "Failed", message: cond(o, "NamesAccepted")?.message ?? "names not accepted" };
      return cond(o, "Established")?.status === "True"
        ? { status: "Current", message: "established" }
        : { status: "InProgress", message: "not established yet" };
    case "Namespace":
      return status.phase === "Terminating"
        ? { status: "InProgress", message: "terminating" }
        : { status: "Current", message: "active" };
    case "PersistentVolumeClaim":
      return status.phase === "Bound"
        ? { status: "Current", message: "bound" }
        : { status: "InProgress", message: `phase ${String(status.phase ?? "Pending")}` };
    case "Service": {
      if (spec.type !== "LoadBalancer") return { status: "Current", message: "service" };
      const ingress = (status.loadBalancer as { ingress?: unknown[] } | undefined)?.ingress;
      return ingress?.length
        ? { status: "Current", message: "load balancer ready" }
        : { status: "InProgress", message: "waiting for a load balancer address" };
    }
    default: {
      const ready = cond(o, "Ready");
      if (!ready) return { status: "Current", message: "no status rules" };
      if (ready.status === "True") return { status: "Current", message: ready.message ?? "ready" };
      const stalled = cond(o, "Stalled");
      if (stalled?.status === "True") return { status: "Failed", message: stalled.message ?? "stalled" };
      return { status: "InProgress", message: ready.message || ready.reason || "not ready" };
    }
  }
}
