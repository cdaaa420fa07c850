import pino, { type Logger } from "pino";

export type { Logger };

const REDACT = [
  "password",
  "*.password",
  "token",
  "*.token",
  "bearerToken",
  "*.bearerToken",
  "identity",
  "*.identity",
  "kubeconfig",
  "*.kubeconfig",
  "headers.authorization",
  "*.headers.authorization",
];

/**
 * The process logger: JSON lines on stderr (stdout is for command output). Child loggers carry
 * `cluster`, `unit` and `revision` fields. Credential-shaped fields are redacted.
 */
export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino(
    {
      name: options.name ?? "flotilla",
      level: options.level ?? process.env.FLOTILLA_LOG_LEVEL ?? "info",
      redact: { paths: REDACT, censor: "[redacted]" },
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination(2),
  );
}

/** A logger that discards everything, for pure code paths and tests. */
export const silentLogger: Logger = pino({ level: "silent" });
