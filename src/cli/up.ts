import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { parseDuration } from "../core/duration.js";
import { InvalidInputError } from "../core/errors.js";
import { createLogger } from "../core/log.js";
import { formatTable, rolloutSettled, unitRows, unitSettled, waveRows } from "../status/index.js";
import { isRemoteRepository, PROJECT_ROOT, startLocalFleet, writeFleetKubeconfig } from "../fleet/index.js";

/**
 * `flotilla up [--repo DIR] [--kubeconfig-out FILE] [--once] [--timeout 10m]`: the whole product on
 * one machine — a local management cluster, the Flux-API and Cluster API CRDs, the repository's
 * `mgmt` objects, the local provider (stand-in mode: cloud Clusters get local control planes too),
 * the repository served over smart HTTP, and the controller that reconciles every unit from git. Ctrl-C or SIGTERM tears it all down.
 * With `--once`, `--timeout` (a duration: 90s, 6m, 1h) bounds the whole run, provisioning included.
 */
export async function run(args: string[]): Promise<number> {
  const options = parseUpArgs(args);
  const logger = createLogger({ level: process.env.FLOTILLA_LOG_LEVEL ?? "warn" });
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  const teardown = new Teardown();
  try {
    if (options.createNamespaces)
      process.stderr.write(
        "namespaces that objects live in and nothing in git creates are created, as an operator would (--no-create-namespaces fails those units as Flux does)\n",
      );
    const fleet = await startLocalFleet({
      repo: options.repo,
      standIn: options.standIn,
      createNamespaces: options.createNamespaces,
      logger,
      step,
      notice: (text) => process.stderr.write(`${text}\n`),
    });
    teardown.add(() => fleet.stop());
    process.stderr.write(
      `repository layout: ${fleet.mode === "flux" ? "Flux objects under mgmt (Flux-compatible mode)" : "convention mode (units planned from the layout)"}\n`,
    );
    await provisionWorkloadClusters(fleet, options.once ? Math.max(0, deadline - Date.now()) : undefined);
    writeFleetKubeconfig(options.kubeconfigOut, fleet.harness);
    process.stderr.write(
      `kubeconfig with contexts ${fleet.harness.clusters.map((c) => c.name).join(", ")}: ${options.kubeconfigOut}\n  kubectl --kubeconfig ${options.kubeconfigOut} --context mgmt get kustomizations -A\n`,
    );
    const settled = await followUnits(
      fleet.controller,
      options.once ? { started, deadline, timeout: options.timeout } : undefined,
    );
    await teardown.run();
    return settled ? 0 : 1;
  } catch (error) {
    await teardown.run();
    throw error;
  }
}

interface UpOptions {
  repo: string;
  kubeconfigOut: string;
  once: boolean;
  timeout: string;
  timeoutMs: number;
  standIn: boolean;
  createNamespaces: boolean;
}

function parseUpArgs(args: string[]): UpOptions {
  const { values } = parseArgs({
    args,
    options: {
      repo: { type: "string" },
      "kubeconfig-out": { type: "string" },
      once: { type: "boolean" },
      timeout: { type: "string" },
      "no-stand-in": { type: "boolean" },
      "no-create-namespaces": { type: "boolean" },
    },
  });
  const repoArg = values.repo ?? (existsSync(join(process.cwd(), "providers")) ? process.cwd() : PROJECT_ROOT);
  const remote = isRemoteRepository(repoArg);
  const repo = remote ? repoArg : resolve(repoArg);
  if (!remote && !existsSync(join(repo, ".git")))
    throw new InvalidInputError(`'${repo}' is not a git repository; flotilla up follows its commits`, {
      field: "--repo",
    });
  const timeout = values.timeout ?? "10m";
  return {
    repo,
    kubeconfigOut: resolve(values["kubeconfig-out"] ?? join(process.cwd(), ".flotilla", "kubeconfig")),
    once: values.once ?? false,
    timeout,
    timeoutMs: parseDuration(timeout, { field: "--timeout" }),
    standIn: !values["no-stand-in"],
    createNamespaces: !values["no-create-namespaces"],
  };
}

/** Prints `what…`, runs it, and then how long it took. */
async function step<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const t = Date.now();
  process.stderr.write(`${process.stderr.isTTY ? "▸ " : ""}${what}…`);
  const v = await fn();
  process.stderr.write(`${v === false ? " gave up" : " done"} (${((Date.now() - t) / 1000).toFixed(1)} s)\n`);
  return v;
}

/** What to stop, in reverse order, once: at the end, on an error, or on SIGINT/SIGTERM (then exit 0). */
class Teardown {
  private readonly steps: Array<() => Promise<void>> = [];
  private stopping = false;
  private readonly onSignal = () => void this.run().then(() => process.exit(0));

  constructor() {
    process.once("SIGINT", this.onSignal);
    process.once("SIGTERM", this.onSignal);
    this.add(async () => {
      process.off("SIGINT", this.onSignal);
      process.off("SIGTERM", this.onSignal);
    });
  }

  add(step: () => Promise<void>): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    process.stderr.write("\nstopping: reconcile loop, provider, control planes…\n");
    for (const fn of this.steps.reverse()) await fn().catch(() => undefined);
  }
}

type LocalFleet = Awaited<ReturnType<typeof startLocalFleet>>;

/** Waits for the workload clusters; when they do not all come up, says which management units hold them back. */
async function provisionWorkloadClusters(fleet: LocalFleet, timeoutMs: number | undefined): Promise<void> {
  const provisioned = await step(`provisioning ${fleet.clustersWanted} workload cluster(s)`, () =>
    fleet.provisioned(timeoutMs),
  );
  if (provisioned) return;
  const reasons = fleet
    .unreadyManagementUnits()
    .map((u) => `\n  ${u.unit}: ${u.message}`)
    .join("");
  process.stderr.write(
    `only ${fleet.clustersReady()} of ${fleet.clustersWanted} workload cluster(s) provisioned so far${reasons ? `; the management cluster's units that are not ready:${reasons}` : ""}\n`,
  );
}

/**
 * Prints the units (and waves) whenever they change. Without `once`, forever; with it, until every
 * unit and rollout has settled for 3 s (true) or the deadline passed (false).
 */
async function followUnits(
  controller: LocalFleet["controller"],
  once: { started: number; deadline: number; timeout: string } | undefined,
): Promise<boolean> {
  let lastTable = "";
  let readySince: number | undefined;
  for (;;) {
    const units = controller.kustomizationList();
    const table = unitsTable(units) + wavesTable(controller.rolloutList());
    if (table !== lastTable) {
      lastTable = table;
      process.stdout.write(`\n${table}`);
    }
    // A rollout still between waves is not done either: its later clusters are not at the newest revision yet.
    const allReady = units.length > 0 && units.every(unitSettled) && controller.rolloutList().every(rolloutSettled);
    readySince = allReady ? (readySince ?? Date.now()) : undefined;
    if (once && readySince !== undefined && Date.now() - readySince >= 3_000) {
      const suspended = units.filter((u) => u.spec.suspend).length;
      process.stderr.write(
        `all ${units.length - suspended} units ready${suspended ? ` (${suspended} suspended, not reconciled)` : ""} after ${((readySince - once.started) / 1000).toFixed(1)} s\n`,
      );
      return true;
    }
    if (once && Date.now() > once.deadline) {
      process.stderr.write(`not every unit became ready within ${once.timeout}\n`);
      return false;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function unitsTable(units: Parameters<typeof unitRows>[0]): string {
  const rows = unitRows(units, new Date()).map((r) => ({
    ...r,
    status: r.status.length > 90 ? `${r.status.slice(0, 87)}...` : r.status,
  }));
  return formatTable(rows, ["namespace", "name", "cluster", "ready", "status"]);
}

/** The waves of each Rollout under the units, when the repository declares rollouts. */
function wavesTable(rollouts: Parameters<typeof waveRows>[0]): string {
  const rows = waveRows(rollouts).map((w) => ({
    ...w,
    reason: w.reason.length > 70 ? `${w.reason.slice(0, 67)}...` : w.reason,
  }));
  return rows.length ? `\n${formatTable(rows, ["rollout", "wave", "updated", "phase", "reason"])}` : "";
}
