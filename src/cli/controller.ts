import { parseArgs } from "node:util";
import { parseListenAddress, serveController } from "../controller/index.js";
import { InvalidInputError } from "../core/errors.js";
import { defaultKubeconfig } from "../core/kube/index.js";
import { createLogger } from "../core/log.js";
import { LIMIT_FLAGS, parseLimitFlags } from "./limit-flags.js";
import { parseReplicaFlags, REPLICA_FLAGS } from "./replica-flags.js";

/**
 * `flotilla controller [--kubeconfig FILE] [--repo URL] [--concurrent N] [--cache-dir DIR] [--listen :8080]
 * [--create-namespaces] [--default-service-account NAME] [--no-cross-namespace-refs] [--allow-insecure-http] [--allow-exec-kubeconfigs]
 * [--lease-namespace NS [--replica-id ID] [--lease-duration 15s] [--renew-deadline 10s] [--retry-period 2s]] [--watch-label-selector SEL]`: the controller on the management cluster. It reconciles the GitRepository and Kustomization objects
 * it finds; with `--repo` it first puts the repository's fleet there (see FleetPlanner). Runs until
 * SIGINT or SIGTERM.
 */
export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      kubeconfig: { type: "string" },
      repo: { type: "string" },
      concurrent: { type: "string", default: "10" },
      "cache-dir": { type: "string" },
      listen: { type: "string", default: ":8080" },
      ...LIMIT_FLAGS,
      "create-namespaces": { type: "boolean", default: false },
      "default-service-account": { type: "string" },
      "no-cross-namespace-refs": { type: "boolean", default: false },
      "allow-insecure-http": { type: "boolean", default: false },
      // Let a target cluster's kubeconfig Secret run an exec credential plugin (Flux: --insecure-kubeconfig-exec).
      "allow-exec-kubeconfigs": { type: "boolean", default: false },
      ...REPLICA_FLAGS,
    },
  });
  const listen = parseListenAddress(values.listen);
  const limits = parseLimitFlags(values);
  const concurrency = Number.parseInt(values.concurrent, 10);
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new InvalidInputError(`--concurrent must be a positive integer, not '${values.concurrent}'`, {
      field: "--concurrent",
    });
  const replicas = parseReplicaFlags(values);
  const logger = createLogger({ level: process.env.FLOTILLA_LOG_LEVEL ?? "info" });
  const defaultServiceAccount = values["default-service-account"];
  if (defaultServiceAccount !== undefined && !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(defaultServiceAccount)) {
    throw new InvalidInputError(
      `--default-service-account must be a ServiceAccount name, not '${defaultServiceAccount}'`,
      {
        field: "--default-service-account",
      },
    );
  }
  logger.info(
    {
      defaultServiceAccount: defaultServiceAccount ?? null,
      noCrossNamespaceRefs: values["no-cross-namespace-refs"],
      allowInsecureHttp: values["allow-insecure-http"],
    },
    "tenancy",
  );
  const serving = await serveController({
    controller: {
      // --kubeconfig, else $KUBECONFIG (merged as kubectl merges it), else the pod's service account
      // (its token file re-read as it rotates), else ~/.kube/config.
      kubeconfig: defaultKubeconfig(values.kubeconfig ? { flag: values.kubeconfig } : {}),
      allowExecKubeconfigs: values["allow-exec-kubeconfigs"],
      concurrency,
      logger,
      sourceLimits: limits.sourceLimits,
      render: limits.render,
      createNamespaces: values["create-namespaces"],
      ...(values["cache-dir"] ? { cacheDir: values["cache-dir"] } : {}),
      ...(defaultServiceAccount ? { defaultServiceAccount } : {}),
      noCrossNamespaceRefs: values["no-cross-namespace-refs"],
      allowInsecureHttp: values["allow-insecure-http"],
      ...replicas,
    },
    listen,
    // Push webhooks: POST /hook/<FLOTILLA_WEBHOOK_TOKEN>, signed with FLOTILLA_WEBHOOK_SECRET; without a
    // secret the URL token is the only credential and signed requests are refused (see webhook.ts).
    ...(process.env.FLOTILLA_WEBHOOK_TOKEN
      ? {
          webhook: {
            token: process.env.FLOTILLA_WEBHOOK_TOKEN,
            ...(process.env.FLOTILLA_WEBHOOK_SECRET ? { secret: process.env.FLOTILLA_WEBHOOK_SECRET } : {}),
          },
        }
      : {}),
    ...(values.repo
      ? { repo: { url: values.repo, ...(values["cache-dir"] ? { cacheDir: values["cache-dir"] } : {}) } }
      : {}),
  });
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  logger.info("stopping");
  await serving.stop();
  return 0;
}
