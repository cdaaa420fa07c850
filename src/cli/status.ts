import { homedir } from "node:os";
import { parseArgs } from "node:util";
import { ClusterClient } from "../apply/index.js";
import { ResourceWatch } from "../controller/index.js";
import { InvalidInputError } from "../core/errors.js";
import { defaultKubeconfig, type LoadedKubeconfig } from "../core/kube/index.js";
import { formatStatus, readFleetStatus, watchFleetStatus, type OpenWatch } from "../status/index.js";

/**
 * `flotilla status [--kubeconfig FILE] [--json] [--watch]`: the Kustomizations of every namespace
 * of the management cluster (NAMESPACE NAME CLUSTER READY STATUS AGE) and its Cluster API clusters
 * with their phase. `--watch` prints again whenever something other than an age changes (through a
 * list-and-watch of each collection, not a poll) until Ctrl-C. Exit 0 when every unit and cluster is Ready, 1 otherwise, 2 on error.
 */
export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      kubeconfig: { type: "string" },
      json: { type: "boolean", default: false },
      watch: { type: "boolean", short: "w", default: false },
    },
  });
  if (positionals.length)
    throw new InvalidInputError(`flotilla status takes no arguments, not '${positionals.join(" ")}'`);
  const kubeconfig = readKubeconfig(values.kubeconfig);
  const client = ClusterClient.connect(kubeconfig, { timeoutMs: 15_000, retries: 3, retryForMs: 5_000 });
  try {
    if (!values.watch) {
      const status = await readFleetStatus(client, new Date());
      process.stdout.write(values.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
      return status.ready ? 0 : 1;
    }
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    try {
      const last = await watchFleetStatus(client, {
        signal: stop.signal,
        json: values.json,
        clear: !values.json && process.stdout.isTTY === true,
        openWatch: watchesOf(client),
        write: (text) => process.stdout.write(text),
        warn: (text) => process.stderr.write(text),
      });
      return last?.ready ? 0 : 1;
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  } finally {
    client.close();
  }
}

/**
 * The kubeconfig: --kubeconfig, else $KUBECONFIG (a list merged as kubectl merges it), else the
 * pod's service account, else ~/.kube/config (core/kube's defaultKubeconfig).
 */
export function readKubeconfig(
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  home = homedir(),
): LoadedKubeconfig {
  return defaultKubeconfig({ ...(flag ? { flag } : {}), env, home });
}

/** The status watch's list-and-watch: the controller's ResourceWatch on the same kubeconfig. */
function watchesOf(client: ClusterClient): OpenWatch {
  return (path, onEvent) => new ResourceWatch(client, path, { onEvent });
}
