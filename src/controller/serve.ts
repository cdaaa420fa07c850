import type { Logger } from "pino";
import { Controller, type ControllerOptions } from "./controller.js";
import { FleetPlanner } from "./fleet-planner.js";
import { startHttpServer, type HookReceiver } from "./http-server.js";
import { pushConcerns } from "./webhook.js";

export interface ServeOptions {
  controller: ControllerOptions & { logger: Logger };
  listen: { host: string; port: number };
  /** Push webhooks at POST /hook/<token>, signed with `secret`; without a secret the URL token is the only credential. */
  webhook?: { token: string; secret?: string };
  /** A repository whose fleet is put on the management cluster first (FleetPlanner). */
  repo?: { url: string; cacheDir?: string };
}

export interface ServingController {
  controller: Controller;
  url: string;
  stop(): Promise<void>;
}

/**
 * What `flotilla controller` runs: the controller, its HTTP endpoints (/metrics, /healthz, /readyz
 * and the push webhook, which polls the GitRepositories the push concerns), and with `repo` the
 * fleet planner's bootstrap of that repository.
 */
export async function serveController(opts: ServeOptions): Promise<ServingController> {
  const logger = opts.controller.logger;
  const controller = new Controller(opts.controller);
  await controller.start();
  const receivers = webhookReceivers(controller, opts.webhook, logger);
  const server = await startHttpServer({
    port: opts.listen.port,
    host: opts.listen.host,
    metrics: controller.metrics,
    ready: () => controller.ready(),
    receivers: () => receivers,
    logger,
  });
  logger.info(
    { url: server.url, webhook: receivers.length > 0 },
    "serving /metrics, /healthz, /readyz and /hook/<token>",
  );
  if (opts.repo) {
    const planner = new FleetPlanner(controller, {
      repoUrl: opts.repo.url,
      logger,
      ...(opts.repo.cacheDir ? { cacheDir: opts.repo.cacheDir } : {}),
    });
    await planner.bootstrap();
  }
  return {
    controller,
    url: server.url,
    async stop() {
      // With replicas: finish the applies in flight and release the Leases before going away.
      await controller.drain();
      controller.stop();
      await server.close();
    },
  };
}

function webhookReceivers(controller: Controller, webhook: ServeOptions["webhook"], logger: Logger): HookReceiver[] {
  if (!webhook) return [];
  if (!webhook.secret)
    logger.warn(
      "FLOTILLA_WEBHOOK_TOKEN without FLOTILLA_WEBHOOK_SECRET: whoever knows the hook URL can trigger polls, and signed hooks are refused",
    );
  return [
    {
      token: webhook.token,
      secret: webhook.secret,
      onPush: (event) => {
        const polled = controller.requestPollOfUrl((url) => pushConcerns(event, url));
        logger.info({ sender: event.sender, ref: event.ref, polled }, "push received");
      },
    },
  ];
}
