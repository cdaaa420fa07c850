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
    throw new InvalidInputError(`'${repo}' is not a git repository; flotilla up follows its commits`, { field: "--repo" });
  const kubeconfigOut = resolve(values["kubeconfig-out"] ?? join(process.cwd(), ".flotilla", "kubeconfig"));
  const timeoutMs = values.timeout ? parseDuration(values.timeout, { field: "--timeout" }) : 10 * 60_000;
  const tty = process.stderr.isTTY;
  const logger = createLogger({ level: process.env.FLOTILLA_LOG_LEVEL ?? "warn" });
  const started = Date.now();
  const deadline = started + timeoutMs;
  const step = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    const t = Date.now();
    process.stderr.write(`${tty ? "▸ " : ""}${what}…`);
    const v = await fn();
    process.stderr.write(`${v === false ? " gave up" : " done"} (${((Date.now() - t) / 1000).toFixed(1)} s)\n`);
    return v;
  };

  const cleanup: Array<() => Promise<void>> = [];
  let stopping = false;
  const shutdown = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    process.stderr.write("\nstopping: reconcile loop, provider, control planes…\n");
    for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
  };
  const onSignal = () => void shutdown().then(() => process.exit(0));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  cleanup.push(async () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  });

  try {
    const createNamespaces = !values["no-create-namespaces"];
    if (createNamespaces)
      process.stderr.write(
        "namespaces that objects live in and nothing in git creates are created, as an operator would (--no-create-namespaces fails those units as Flux does)\n",
      );
    const fleet = await startLocalFleet({
      repo,
      standIn: !values["no-stand-in"],
      createNamespaces,
      logger,
      step,
      notice: (text) => process.stderr.write(`${text}\n`),
    });
    cleanup.push(() => fleet.stop());
    const { controller, harness } = fleet;
    process.stderr.write(
      `repository layout: ${fleet.mode === "flux" ? "Flux objects under mgmt (Flux-compatible mode)" : "convention mode (units planned from the layout)"}\n`,
    );
    const provisioned = await step(`provisioning ${fleet.clustersWanted} workload cluster(s)`, () =>
      fleet.provisioned(values.once ? Math.max(0, deadline - Date.now()) : undefined),
    );
    if (!provisioned) {
      // Say why instead of waiting on: the management cluster's units create the Clusters.
      const reasons = fleet
        .unreadyManagementUnits()
        .map((u) => `\n  ${u.unit}: ${u.message}`)
        .join("");
      process.stderr.write(
        `only ${fleet.clustersReady()} of ${fleet.clustersWanted} workload cluster(s) provisioned so far${reasons ? `; the management cluster's units that are not ready:${reasons}` : ""}\n`,
      );
    }
    writeFleetKubeconfig(kubeconfigOut, harness);
    process.stderr.write(
      `kubeconfig with contexts ${harness.clusters.map((c) => c.name).join(", ")}: ${kubeconfigOut}\n  kubectl --kubeconfig ${kubeconfigOut} --context mgmt get kustomizations -A\n`,
    );

    let lastTable = "";
    let readySince: number | undefined;
    for (;;) {
      const units = controller.kustomizationList();
      const table =
        formatTable(
          unitRows(units, new Date()).map((r) => ({ ...r, status: r.status.length > 90 ? `${r.status.slice(0, 87)}...` : r.status })),
          ["namespace", "name", "cluster", "ready", "status"],
        ) + wavesTable(controller.rolloutList());
      if (table !== lastTable) {
        lastTable = table;
        process.stdout.write(`\n${table}`);
      }
      // A rollout still between waves is not done either: its later clusters are not at the newest revision yet.
      const allReady = units.length > 0 && units.every(unitSettled) && controller.rolloutList().every(rolloutSettled);
      readySince = allReady ? (readySince ?? Date.now()) : undefined;
      if (values.once && readySince !== undefined && Date.now() - readySince >= 3_000) {
        const suspended = units.filter((u) => u.spec.suspend).length;
        process.stderr.write(
          `all ${units.length - suspended} units ready${suspended ? ` (${suspended} suspended, not reconciled)` : ""} after ${((readySince - started) / 1000).toFixed(1)} s\n`,
        );
        await shutdown();
        return 0;
      }
      if (values.once && Date.now() > deadline) {
        process.stderr.write(`not every unit became ready within ${values.timeout ?? "10m"}\n`);
        await shutdown();
        return 1;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  } catch (error) {
    await shutdown();
    throw error;
  }
}

/** The waves of each Rollout under the units, when the repository declares rollouts. */
function wavesTable(rollouts: Parameters<typeof waveRows>[0]): string {
  const rows = waveRows(rollouts).map((w) => ({ ...w, reason: w.reason.length > 70 ? `${w.reason.slice(0, 67)}...` : w.reason }));
  return rows.length ? `\n${formatTable(rows, ["rollout", "wave", "updated", "phase", "reason"])}` : "";
}
