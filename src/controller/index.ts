export { Controller, FINALIZER, type ControllerOptions } from "./controller.js";
export { FleetPlanner, type FleetPlannerOptions } from "./fleet-planner.js";
export {
  startHttpServer,
  parseListenAddress,
  type HttpServer,
  type HttpServerOptions,
  type HookReceiver,
} from "./http-server.js";
export { readPush, repositoryIdentity, pushConcerns, type PushEvent, type WebhookVerdict } from "./webhook.js";
export { ResourceWatch, type WatchEventType, type WatchHandlers } from "../core/kube/index.js";
export { DEFAULT_RENDER_MEMORY_MB, DEFAULT_RENDER_TIMEOUT_MS, type RenderWorkerOptions } from "./render-worker.js";
export { serveController, type ServeOptions, type ServingController } from "./serve.js";
