import { existsSync, readFileSync } from "node:fs";
import { cpus, homedir } from "node:os";
import { join } from "node:path";
import { ClusterClient } from "../../src/core/kube/index.js";
import { startHarness, type Harness, type LocalControlPlane } from "../../src/provision/local/harness.js";
import { measureProcess } from "./measure.js";
import { printJson, printTable, type Row } from "./report.js";

/** The script sits in src/ (the benchmark runs from dist/test/bench, or from test/bench). */
const SCRIPT = [join(import.meta.dirname, "..", "..", "..", "src"), join(import.meta.dirname, "..", "..", "src")]
  .map((d) => join(d, "provision", "local", "install-binaries.sh"))
  .find((f) => existsSync(f))!;
const CLOCK_TICKS = 100;
const MiB = (kib: number) => Math.round(kib / 1024);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function procStatus(pid: number | undefined, field: "VmRSS" | "VmHWM"): number {
  if (!pid) return 0;
  try {
    return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

function meminfo(key: "MemTotal" | "MemAvailable"): number {
  return Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync("/proc/meminfo", "utf8"))?.[1] ?? 0);
}

/** The etcd shared by a harness: the child of this process whose command line names etcd. */
function etcdPid(): number | undefined {
  for (const entry of readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, "utf8").trim().split(/\s+/)) {
    const pid = Number(entry);
    try {
      if (/(^|\/)etcd\0/.test(readFileSync(`/proc/${pid}/cmdline`, "utf8"))) return pid;
    } catch {
      // gone
    }
  }
  return undefined;
}

/** RSS (KiB) of one cluster's own processes: apiserver, controller-manager, scheduler. */
function clusterRss(cp: LocalControlPlane): {
  apiserver: number;
  controllerManager: number;
  scheduler: number;
  total: number;
} {
  const pids = cp.pids();
  const apiserver = procStatus(pids.apiserver, "VmRSS");
  const controllerManager = procStatus(pids.controllerManager, "VmRSS");
  const scheduler = procStatus(pids.scheduler, "VmRSS");
  return { apiserver, controllerManager, scheduler, total: apiserver + controllerManager + scheduler };
}

/** Whole-footprint RSS (KiB): every cluster's processes, the shared etcd, and this process (which runs the simulated kubelets). */
function footprint(harness: Harness): { clusters: number; etcd: number; node: number; total: number } {
  const clusters = harness.clusters.reduce((sum, cp) => sum + clusterRss(cp).total, 0);
  const etcd = procStatus(etcdPid(), "VmRSS");
  const node = Math.round(process.memoryUsage().rss / 1024);
  return { clusters, etcd, node, total: clusters + etcd + node };
}

/** CPU used while idle over `ms`, as a share of one core: all cluster processes, etcd, and this process. */
async function idleCpu(harness: Harness, ms: number): Promise<number> {
  const pids = [...harness.clusters.flatMap((cp) => Object.values(cp.pids())), etcdPid()];
  const before = pids.map(cpuSeconds);
  const self = process.cpuUsage();
  await sleep(ms);
  const used = pids.map(cpuSeconds).reduce((sum, v, i) => sum + v - before[i]!, 0);
  const mine = process.cpuUsage(self);
  return (used + (mine.user + mine.system) / 1e6) / (ms / 1000);
}

async function timeToAvailable(cp: LocalControlPlane): Promise<number> {
  const client = ClusterClient.fromKubeconfig(cp.kubeconfig);
  const started = Date.now();
  try {
    await client.request("POST", "/apis/apps/v1/namespaces/default/deployments", {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "probe", namespace: "default" },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: "probe" } },
        template: {
          metadata: { labels: { app: "probe" } },
          spec: { containers: [{ name: "main", image: "nginx:1.25" }] },
        },
      },
    });
    for (;;) {
      const d = await client.request<{
        status?: { conditions?: Array<{ type: string; status: string }>; availableReplicas?: number };
      }>("GET", "/apis/apps/v1/namespaces/default/deployments/probe");
      if (
        d.body.status?.availableReplicas === 2 &&
        d.body.status.conditions?.some((c) => c.type === "Available" && c.status === "True")
      )
        return (Date.now() - started) / 1000;
      if (Date.now() - started > 60_000)
        throw new Error(`Deployment default/probe on '${cp.name}' not Available after 60 s`);
      await sleep(100);
    }
  } finally {
    client.close();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Cached set-up of the binaries (the script returns at once when the cache is complete; a cold build is never started here). */
async function cachedSetup(): Promise<number | null> {
  const bin = join(process.env.FLOTILLA_CACHE ?? join(homedir(), ".cache", "flotilla"), "bin");
  const recipe = /^recipe=(\S+)/m.exec(readFileSync(SCRIPT, "utf8"))?.[1];
  const cached =
    ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"].every((f) => existsSync(join(bin, f))) &&
    existsSync(join(bin, ".recipe")) &&
    readFileSync(join(bin, ".recipe"), "utf8").trim() === recipe;
  if (!cached && !process.env.KUBEBUILDER_ASSETS) return null;
  const runs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const m = await measureProcess("bash", [SCRIPT]);
    if (m.exitCode !== 0) throw new Error(`install-binaries.sh failed: ${m.stderr}`);
    runs.push(m.seconds);
  }
  return median(runs);
}

/**
 * Local control planes on this machine: cached binary set-up, time to a Ready cluster in each
 * profile, memory and idle CPU per `full` cluster (1 and then PROVISION_BENCH_CLUSTERS, 5 by
 * default), and how many `full` clusters this machine's memory holds by extrapolation.
 */
export async function run(): Promise<void> {
  const many = Number(process.env.PROVISION_BENCH_CLUSTERS ?? 5);
  const setupSeconds = await cachedSetup();

  // The apiserver profile: etcd, then three clusters one after another.
  let started = Date.now();
  const light = await startHarness({ profile: "apiserver" });
  const etcdSeconds = (Date.now() - started) / 1000;
  const apiserverAdds: number[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      started = Date.now();
      await light.add(`light-${i}`);
      apiserverAdds.push((Date.now() - started) / 1000);
    }
  } finally {
    await light.stop();
  }

  // The full profile: one cluster, a Deployment to Available, settle, measure; then up to `many`.
  const full = await startHarness({ profile: "full" });
  try {
    const fullAdds: number[] = [];
    const add = async (name: string) => {
      const t = Date.now();
      const cp = await full.add(name);
      fullAdds.push((Date.now() - t) / 1000);
      return cp;
    };
    const first = await add("full-0");
    const availableSeconds = await timeToAvailable(first);
    await sleep(15_000);
    const one = clusterRss(first);
    const at1 = footprint(full);
    const cpu1 = await idleCpu(full, 10_000);
    for (let i = 1; i < many; i++) await add(`full-${i}`);
    await sleep(15_000);
    const atMany = footprint(full);
    const cpuMany = await idleCpu(full, 10_000);

    const memTotal = meminfo("MemTotal");
    const marginal = (atMany.total - at1.total) / (many - 1);
    const fixed = at1.total - marginal;
    const fitByMemory = Math.floor((memTotal - fixed) / marginal);
    const cpuPerCluster = (cpuMany - cpu1) / (many - 1);
    const cores = cpus().length;

    const timing: Row[] = [
      { step: "cached binary set-up (install-binaries.sh, median of 5)", seconds: setupSeconds },
      { step: "etcd start (once per run)", seconds: etcdSeconds },
      { step: "apiserver cluster Ready (median of 3)", seconds: median(apiserverAdds) },
      { step: `full cluster Ready, nodes schedulable (median of ${fullAdds.length})`, seconds: median(fullAdds) },
      { step: "full cluster: new Deployment (2 replicas) Available", seconds: availableSeconds },
    ];
    printTable("local control planes: time (this machine)", timing);
    const memory: Row[] = [
      { what: "kube-apiserver", MiB: MiB(one.apiserver) },
      { what: "kube-controller-manager", MiB: MiB(one.controllerManager) },
      { what: "kube-scheduler", MiB: MiB(one.scheduler) },
      { what: "one full cluster (sum)", MiB: MiB(one.total) },
      { what: "etcd (shared), 1 cluster", MiB: MiB(at1.etcd) },
      { what: `etcd (shared), ${many} clusters`, MiB: MiB(atMany.etcd) },
      { what: "this process (simulated kubelets), 1 / many", MiB: `${MiB(at1.node)} / ${MiB(atMany.node)}` },
      { what: `whole footprint, 1 / ${many} clusters`, MiB: `${MiB(at1.total)} / ${MiB(atMany.total)}` },
      { what: "marginal full cluster (all processes)", MiB: MiB(marginal) },
      { what: "MemTotal", MiB: MiB(memTotal) },
      { what: "full clusters that fit in memory (extrapolated)", MiB: fitByMemory },
    ];
    printTable(`local control planes: resident memory (VmRSS) after settling, 1 and ${many} full clusters`, memory);
    const cpu: Row[] = [
      { what: "idle CPU, 1 cluster (cores)", value: Number(cpu1.toFixed(3)) },
      { what: `idle CPU, ${many} clusters (cores)`, value: Number(cpuMany.toFixed(3)) },
      { what: "idle CPU per extra cluster (cores)", value: Number(cpuPerCluster.toFixed(3)) },
      {
        what: `full clusters whose idle load fits ${cores} cores`,
        value: cpuPerCluster > 0 ? Math.floor(cores / cpuPerCluster) : null,
      },
    ];
    printTable("local control planes: idle CPU over 10 s", cpu);
    printJson("provision", {
      figures: "time",
      cachedSetupSeconds: setupSeconds,
      etcdSeconds,
      apiserverClusterReadySeconds: median(apiserverAdds),
      fullClusterReadySeconds: median(fullAdds),
      fullClusterReadyRuns: fullAdds,
      deploymentAvailableSeconds: availableSeconds,
    });
    printJson("provision", {
      figures: "memory",
      apiserverMiB: MiB(one.apiserver),
      controllerManagerMiB: MiB(one.controllerManager),
      schedulerMiB: MiB(one.scheduler),
      fullClusterMiB: MiB(one.total),
      etcdMiB: [MiB(at1.etcd), MiB(atMany.etcd)],
      processMiB: [MiB(at1.node), MiB(atMany.node)],
      footprintMiB: [MiB(at1.total), MiB(atMany.total)],
      clusters: [1, many],
      marginalClusterMiB: MiB(marginal),
      memTotalMiB: MiB(memTotal),
      fullClustersFitInMemory: fitByMemory,
    });
    printJson("provision", {
      figures: "cpu",
      idleCores: [Number(cpu1.toFixed(3)), Number(cpuMany.toFixed(3))],
      clusters: [1, many],
      perClusterCores: Number(cpuPerCluster.toFixed(3)),
      cores,
      fullClustersFitIdleCpu: cpuPerCluster > 0 ? Math.floor(cores / cpuPerCluster) : null,
    });
  } finally {
    await full.stop();
  }
}
