import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startCli, type CliProcess } from "../support/cli-process.js";
import { Scrape } from "../support/metrics-text.js";

/**
 * `flotilla controller` replicas as child processes, observed from outside as an operator observes
 * them: `/metrics` for counts, `/proc` for CPU and peak RSS (render worker threads included), and
 * the push webhook to announce a commit. Each replica's figures are its own process's.
 */
export interface ReplicaOptions {
  kubeconfigFile: string;
  concurrency: number;
  /** Working directory for the replicas' git caches. */
  dir: string;
  /** More than one: each runs with `--lease-namespace` and its own `--replica-id`. */
  replicas: number;
  leaseNamespace: string;
}

export interface Replica {
  id: string;
  proc: CliProcess;
  url: string;
}

const WRITE_VERBS = ["create", "apply", "patch", "delete"];

/** The figures the fleet bench reads from every replica's /metrics, summed. */
export interface Counters {
  workloadWrites: number;
  workloadRequests: number;
  managementWrites: number;
  applied: number;
  unchanged: number;
  queued: number;
  processing: number;
  stepSeconds: Record<"render" | "apply" | "status", number>;
}

export class ControllerReplicas {
  private constructor(
    readonly replicas: Replica[],
    private readonly webhookToken: string,
  ) {}

  static async start(options: ReplicaOptions): Promise<ControllerReplicas> {
    const webhookToken = randomBytes(16).toString("hex");
    const started = Array.from({ length: options.replicas }, (_, i) => {
      const id = `fleet-bench-${i + 1}`;
      const args = [
        "controller",
        "--kubeconfig",
        options.kubeconfigFile,
        "--concurrent",
        String(options.concurrency),
        "--cache-dir",
        join(options.dir, `cache-${id}`),
        "--listen",
        "127.0.0.1:0",
        "--allow-insecure-http",
        ...(options.replicas > 1 ? ["--lease-namespace", options.leaseNamespace, "--replica-id", id] : []),
      ];
      // At the default log level (info), whose JSON lines are part of what the controller costs.
      const proc = startCli(args, { env: { FLOTILLA_WEBHOOK_TOKEN: webhookToken, FLOTILLA_LOG_LEVEL: "info" } });
      return { id, proc };
    });
    const replicas = await Promise.all(
      started.map(async ({ id, proc }) => {
        const line = await proc.waitForLog(
          (l) => typeof l.url === "string" && String(l.msg).startsWith("serving"),
          120_000,
        );
        return { id, proc, url: String(line.url) };
      }),
    );
    return new ControllerReplicas(replicas, webhookToken);
  }

  /** Every replica's /metrics, summed into the bench's counters. */
  async counters(): Promise<Counters> {
    const scrapes = await Promise.all(
      this.replicas.map(async (r) => new Scrape(await (await fetch(`${r.url}/metrics`)).text())),
    );
    const sum = (name: string, match: Record<string, string> = {}) =>
      scrapes.reduce((t, s) => t + s.sum(name, match), 0);
    const writes = (target: string) =>
      WRITE_VERBS.reduce((t, verb) => t + sum("flotilla_kube_requests_total", { target, verb }), 0);
    return {
      workloadWrites: writes("workload"),
      workloadRequests: sum("flotilla_kube_requests_total", { target: "workload" }),
      managementWrites: writes("management"),
      applied: sum("flotilla_unit_reconciles_total", { outcome: "applied" }),
      unchanged: sum("flotilla_unit_reconciles_total", { outcome: "unchanged" }),
      queued: sum("flotilla_workqueue", { state: "queued" }),
      processing: sum("flotilla_workqueue", { state: "processing" }),
      stepSeconds: {
        render: sum("flotilla_reconcile_step_seconds_total", { step: "render" }),
        apply: sum("flotilla_reconcile_step_seconds_total", { step: "apply" }),
        status: sum("flotilla_reconcile_step_seconds_total", { step: "status" }),
      },
    };
  }

  /** Waits until no replica has a reconcile queued or running. */
  async whenIdle(): Promise<Counters> {
    for (;;) {
      const c = await this.counters();
      if (c.queued === 0 && c.processing === 0) return c;
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }

  /** Announces a push of `repoUrl` to every replica, as a forge's generic webhook does. */
  async push(repoUrl: string): Promise<void> {
    await Promise.all(
      this.replicas.map(async (r) => {
        const res = await fetch(`${r.url}/hook/${this.webhookToken}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ url: repoUrl }),
        });
        if (!res.ok) throw new Error(`${r.id}: the push webhook answered ${res.status}: ${await res.text()}`);
      }),
    );
  }

  /** CPU seconds (user + system) each replica's process has used so far. */
  cpuSeconds(): number[] {
    return this.replicas.map((r) => {
      const stat = readFileSync(`/proc/${r.proc.pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // utime and stime (fields 14 and 15 of proc(5)), in clock ticks of 1/100 s on Linux.
      return (Number(fields[11]) + Number(fields[12])) / 100;
    });
  }

  /** Each replica's peak resident set (VmHWM), in MiB. */
  peakRssMiB(): number[] {
    return this.replicas.map((r) => {
      const status = readFileSync(`/proc/${r.proc.pid}/status`, "utf8");
      const kib = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
      return Math.round(kib / 1024);
    });
  }

  /** SIGTERM, as a Deployment stops a pod: each finishes its applies and releases its Leases. */
  async stop(): Promise<void> {
    await Promise.all(this.replicas.map((r) => r.proc.kill("SIGTERM")));
  }

  /** The last lines each replica wrote, for a failure's message. */
  tails(): string {
    return this.replicas.map((r) => r.proc.tail(10)).join("\n");
  }
}
