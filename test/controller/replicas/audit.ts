import { readFileSync } from "node:fs";

/**
 * What the apiservers' audit logs (JSON lines, level Metadata) say about writes: who (the
 * User-Agent, which names the replica), what, when the request arrived and when it was answered.
 */
export interface AuditWrite {
  replica: string;
  verb: string;
  resource: string;
  namespace: string;
  name: string;
  code: number;
  dryRun: boolean;
  /** requestReceivedTimestamp and stageTimestamp (ResponseComplete), in ms. */
  received: number;
  completed: number;
}

const REPLICA_AGENT = /^flotilla-controller\/([a-z0-9.-]+)$/;
const WRITE_VERBS = new Set(["create", "update", "patch", "delete", "deletecollection"]);

/** The audit policy: write verbs at Metadata level, nothing else. */
export const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  verbs: ["create", "update", "patch", "delete", "deletecollection"]
- level: None
`;

/** The completed writes of replicas (User-Agent `flotilla-controller/<id>`) in an audit log. */
export function replicaWrites(file: string): AuditWrite[] {
  const out: AuditWrite[] = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const e = JSON.parse(line) as {
      stage?: string;
      verb?: string;
      userAgent?: string;
      requestURI?: string;
      objectRef?: { resource?: string; namespace?: string; name?: string };
      responseStatus?: { code?: number };
      requestReceivedTimestamp?: string;
      stageTimestamp?: string;
    };
    const replica = REPLICA_AGENT.exec(e.userAgent ?? "")?.[1];
    if (e.stage !== "ResponseComplete" || !replica || !WRITE_VERBS.has(e.verb ?? "")) continue;
    out.push({
      replica,
      verb: e.verb!,
      resource: e.objectRef?.resource ?? "",
      namespace: e.objectRef?.namespace ?? "",
      name: e.objectRef?.name ?? "",
      code: e.responseStatus?.code ?? 0,
      dryRun: /[?&]dryRun=/.test(e.requestURI ?? ""),
      received: Date.parse(e.requestReceivedTimestamp ?? ""),
      completed: Date.parse(e.stageTimestamp ?? ""),
    });
  }
  return out.sort((a, b) => a.received - b.received);
}

/** Consecutive writes of one replica, in the order the apiserver received them. */
export interface Run {
  replica: string;
  from: number;
  to: number;
  writes: number;
}

export function runsOf(writes: readonly AuditWrite[]): Run[] {
  const runs: Run[] = [];
  for (const w of writes) {
    const last = runs.at(-1);
    if (last && last.replica === w.replica) {
      last.to = Math.max(last.to, w.completed);
      last.writes++;
    } else runs.push({ replica: w.replica, from: w.received, to: w.completed, writes: 1 });
  }
  return runs;
}

/** A replica's hold of one Lease, from the Lease's own writes: acquired, renewed, then released (deleted) or left to expire. */
export interface Tenure {
  replica: string;
  /** When the acquiring write was answered. */
  from: number;
  /** When the release (delete) arrived, or the last renewal's arrival plus the lease duration. */
  to: number;
  released: boolean;
}

/** The tenures of one Lease from its successful writes (sorted by arrival). */
export function tenuresOf(leaseWrites: readonly AuditWrite[], leaseDurationMs: number): Tenure[] {
  const tenures: Tenure[] = [];
  for (const w of leaseWrites.filter((x) => x.code < 300)) {
    const last = tenures.at(-1);
    const open = last && !last.released && last.replica === w.replica;
    if (w.verb === "delete") {
      if (open) Object.assign(last, { to: w.received, released: true });
      continue;
    }
    if (open) last.to = w.received + leaseDurationMs;
    else tenures.push({ replica: w.replica, from: w.completed, to: w.received + leaseDurationMs, released: false });
  }
  return tenures;
}
