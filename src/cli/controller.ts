import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { Controller } from "../controller/controller.js";
import { FleetPlanner } from "../controller/fleet-planner.js";
import { parseListenAddress, startHttpServer, type HookReceiver } from "../controller/http-server.js";
import { repositoryIdentity } from "../controller/webhook.js";
import { InvalidInputError } from "../core/errors.js";
import { createLogger } from "../core/log.js";
import { LIMIT_FLAGS, parseLimitFlags } from "./limit-flags.js";

const SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount";

/**
 * `flotilla controller [--kubeconfig FILE] [--repo URL] [--concurrent N] [--cache-dir DIR] [--listen :8080]
 * [--create-namespaces] [--default-service-account NAME] [--no-cross-namespace-refs] [--allow-insecure-http]`: the controller on the management cluster. It reconciles the GitRepository and Kustomization objects
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
    },
  });
  const listen = parseListenAddress(values.listen);
  const limits = parseLimitFlags(values);
  const concurrency = Number.parseInt(values.concurrent, 10);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new InvalidInputError(`--concurrent must be a positive integer, not '${values.concurrent}'`, { field: "--concurrent" });
  const logger = createLogger({ level: process.env.FLOTILLA_LOG_LEVEL ?? "info" });
  const defaultServiceAccount = values["default-service-account"];
  if (defaultServiceAccount !== undefined && !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(defaultServiceAccount)) {
    throw new InvalidInputError(`--default-service-account must be a ServiceAccount name, not '${defaultServiceAccount}'`, { field: "--default-service-account" });
  }
  const controller = new Controller({
    kubeconfig: managementKubeconfig(values.kubeconfig),
    concurrency,
    logger,
    sourceLimits: limits.sourceLimits,
    render: limits.render,
    createNamespaces: values["create-namespaces"],
    ...(values["cache-dir"] ? { cacheDir: values["cache-dir"] } : {}),
    ...(defaultServiceAccount ? { defaultServiceAccount } : {}),
    noCrossNamespaceRefs: values["no-cross-namespace-refs"],
    allowInsecureHttp: values["allow-insecure-http"],
  });
  logger.info({ defaultServiceAccount: defaultServiceAccount ?? null, noCrossNamespaceRefs: values["no-cross-namespace-refs"], allowInsecureHttp: values["allow-insecure-http"] }, "tenancy");
  await controller.start();
  // Push webhooks: POST /hook/<FLOTILLA_WEBHOOK_TOKEN>, signed with FLOTILLA_WEBHOOK_SECRET (or the token).
  const token = process.env.FLOTILLA_WEBHOOK_TOKEN;
  const receivers: HookReceiver[] = token
    ? [
        {
          token,
          secret: process.env.FLOTILLA_WEBHOOK_SECRET,
          onPush: (event) => {
            const pushed = new Set(event.urls.map(repositoryIdentity));
            const polled = controller.requestPollOfUrl((url) => pushed.size === 0 || pushed.has(repositoryIdentity(url)));
            logger.info({ sender: event.sender, ref: event.ref, polled }, "push received");
          },
        },
      ]
    : [];
  const server = await startHttpServer({ port: listen.port, host: listen.host, metrics: controller.metrics, ready: () => controller.ready(), receivers: () => receivers, logger });
  logger.info({ url: server.url, webhook: receivers.length > 0 }, "serving /metrics, /healthz, /readyz and /hook/<token>");
  if (values.repo) {
    const planner = new FleetPlanner(controller, { repoUrl: values.repo, logger, ...(values["cache-dir"] ? { cacheDir: values["cache-dir"] } : {}) });
    await planner.bootstrap();
  }
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  logger.info("stopping");
  controller.stop();
  await server.close();
  return 0;
}

/** --kubeconfig, else $KUBECONFIG, else the pod's service account (in cluster), else ~/.kube/config. */
export function managementKubeconfig(flag: string | undefined): string {
  const file = flag ?? process.env.KUBECONFIG?.split(":")[0];
  if (file) {
    if (!existsSync(file)) throw new InvalidInputError(`kubeconfig '${file}' does not exist`, { file, field: "--kubeconfig" });
    return readFileSync(file, "utf8");
  }
  const host = process.env.KUBERNETES_SERVICE_HOST;
  if (host && existsSync(join(SERVICE_ACCOUNT, "token"))) {
    const port = process.env.KUBERNETES_SERVICE_PORT ?? "443";
    return stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "in-cluster", cluster: { server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`, "certificate-authority-data": readFileSync(join(SERVICE_ACCOUNT, "ca.crt")).toString("base64") } }],
      users: [{ name: "service-account", user: { token: readFileSync(join(SERVICE_ACCOUNT, "token"), "utf8").trim() } }],
      contexts: [{ name: "in-cluster", context: { cluster: "in-cluster", user: "service-account" } }],
      "current-context": "in-cluster",
    });
  }
  const home = join(homedir(), ".kube", "config");
  if (existsSync(home)) return readFileSync(home, "utf8");
  throw new InvalidInputError("no kubeconfig: pass --kubeconfig, set KUBECONFIG, or run in a cluster", { field: "--kubeconfig" });
}
