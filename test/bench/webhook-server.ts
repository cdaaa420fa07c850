import pino from "pino";
import { startHttpServer } from "../../src/controller/http-server.js";
import { Metrics } from "../../src/status/metrics.js";

/**
 * The controller's HTTP server alone, for bench/webhook.ts to measure in its own process: one hook
 * receiver (token `bench-token`, secret `bench-secret`) that counts pushes. Prints `{"url":…}` once
 * listening, then `{"pushes":N}` on every push; runs until SIGTERM.
 */
async function main(): Promise<void> {
  let pushes = 0;
  const server = await startHttpServer({
    port: 0,
    host: "127.0.0.1",
    metrics: new Metrics(),
    ready: () => true,
    receivers: () => [
      {
        token: "bench-token",
        secret: "bench-secret",
        onPush: () => process.stdout.write(`${JSON.stringify({ pushes: ++pushes })}\n`),
      },
    ],
    logger: pino({ level: "silent" }),
  });
  process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
  process.once("SIGTERM", () => void server.close().then(() => process.exit(0)));
}

void main();
