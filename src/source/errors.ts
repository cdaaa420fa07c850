import { RemoteError, TimeoutError, isFlotillaError } from "../core/errors.js";

/** A URL with any user name, password or token removed, for messages and logs. */
export function sanitizeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = "";
      u.password = "";
    }
    u.search = u.search.replace(/(token|password|secret)=[^&]*/gi, "$1=***");
    return u.toString();
  } catch {
    return url.replace(/\/\/[^@/]+@/, "//");
  }
}

/** Wraps a failure of `step` against `url` in a RemoteError that says both, with no credentials. */
export function remoteFailure(url: string, step: string, error: unknown, secrets: readonly string[] = []): Error {
  if (isFlotillaError(error)) return error;
  const e = error as {
    code?: string;
    data?: { statusCode?: number; statusMessage?: string };
    message?: string;
    name?: string;
  };
  let message: string;
  if (e?.code === "HttpError" && e.data?.statusCode) {
    const status = e.data.statusCode;
    message = `HTTP ${status} ${e.data.statusMessage ?? ""}`.trim();
    if (status === 401 || status === 403) message += ": authentication failed (check the GitRepository's secretRef)";
  } else if (e?.name === "AbortError" || e?.code === "ABORT_ERR") {
    return new TimeoutError(`${sanitizeUrl(url)}: ${step} timed out`, { object: sanitizeUrl(url) });
  } else {
    message = e?.message ?? String(error);
  }
  for (const s of secrets) if (s) message = message.split(s).join("***");
  return new RemoteError(
    `${sanitizeUrl(url)}: ${step} failed: ${message.replace(/\/\/[^@/\s]+@/g, "//")}`,
    { object: sanitizeUrl(url) },
    { cause: error },
  );
}
