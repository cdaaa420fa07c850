import { createHash, createHmac, timingSafeEqual } from "node:crypto";

/**
 * Push webhooks from GitHub, GitLab and generic senders, read after http-server.ts matched the
 * token of `/hook/<token>`. The token in the URL is never a signing key: whoever sees the URL
 * (a forge's settings page, a proxy log) would otherwise sign requests. With a receiver secret
 * (FLOTILLA_WEBHOOK_SECRET) every request must carry a signature made with it; without one the
 * URL token is the only credential, as for Flux's `generic` Receiver, and a request that carries
 * a signature is refused, since nothing could check it. A verified push names the repository URLs
 * it concerns; a push that names none is refused rather than taken as "every repository".
 */
export type PushEvent = { sender: "github" | "gitlab" | "generic"; urls: string[]; ref?: string };
export type WebhookVerdict = { ok: true; event: PushEvent } | { ok: false; status: number; reason: string };

type Headers = Record<string, string | string[] | undefined>;

/** Headers that carry a signature or a shared token, by sender. */
const SIGNATURE_HEADERS = ["x-hub-signature-256", "x-hub-signature", "x-signature", "x-gitlab-token"];

function header(headers: Headers, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** Constant-time equality of two strings of any length (both are hashed first, so lengths do not show). */
export function sameSecret(a: string, b: string): boolean {
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}

function hmacHex(secret: string, body: Buffer): string {
  return createHmac("sha256", secret).update(body).digest("hex");
}

function senderOf(headers: Headers): PushEvent["sender"] {
  if (header(headers, "x-github-event") !== undefined) return "github";
  if (header(headers, "x-gitlab-event") !== undefined) return "gitlab";
  return "generic";
}

/** Why the request's signature does not verify with `secret`, or undefined when it does. */
function signatureProblem(
  sender: PushEvent["sender"],
  secret: string,
  headers: Headers,
  body: Buffer,
): string | undefined {
  if (sender === "github") {
    const signature = header(headers, "x-hub-signature-256");
    return signature && sameSecret(signature, `sha256=${hmacHex(secret, body)}`)
      ? undefined
      : "GitHub signature (X-Hub-Signature-256) does not match";
  }
  if (sender === "gitlab") {
    const token = header(headers, "x-gitlab-token");
    return token && sameSecret(token, secret) ? undefined : "GitLab token (X-Gitlab-Token) does not match";
  }
  const signature = header(headers, "x-signature") ?? header(headers, "x-hub-signature-256");
  return signature && sameSecret(signature.replace(/^sha256=/, ""), hmacHex(secret, body))
    ? undefined
    : "signature (X-Signature: sha256=<hmac>) does not match";
}

/** Which events of a sender are pushes (answered 202 otherwise); undefined for a GitHub ping. */
function eventProblem(sender: PushEvent["sender"], headers: Headers): string | undefined {
  if (sender === "github") {
    const event = header(headers, "x-github-event")!;
    return event === "push" || event === "ping" ? undefined : `ignored GitHub event '${event}'`;
  }
  if (sender === "gitlab") {
    const event = header(headers, "x-gitlab-event")!;
    return /^(Push|Tag Push) Hook$/.test(event) ? undefined : `ignored GitLab event '${event}'`;
  }
  return undefined;
}

/**
 * Verifies and reads one webhook request whose URL token has already matched a receiver;
 * `secret` is that receiver's signing secret, if it has one. Never throws on bad input.
 */
export function readPush(secret: string | undefined, headers: Headers, body: Buffer): WebhookVerdict {
  const sender = senderOf(headers);
  if (secret === undefined) {
    const signed = SIGNATURE_HEADERS.find((h) => header(headers, h) !== undefined);
    if (signed)
      return {
        ok: false,
        status: 401,
        reason: `this hook has no secret (FLOTILLA_WEBHOOK_SECRET), so its ${signed} header cannot be checked: set the secret, or send no signature`,
      };
  } else {
    const problem = signatureProblem(sender, secret, headers, body);
    if (problem) return { ok: false, status: 401, reason: problem };
  }
  const ignored = eventProblem(sender, headers);
  if (ignored) return { ok: false, status: 202, reason: ignored };
  if (sender === "github" && header(headers, "x-github-event") === "ping")
    return { ok: true, event: { sender, urls: [] } };
  let payload: unknown = {};
  if (body.length > 0) {
    try {
      payload = JSON.parse(body.toString("utf8"));
    } catch {
      return { ok: false, status: 400, reason: "payload is not JSON" };
    }
  }
  const { urls, ref } = extract(sender, payload);
  if (urls.length === 0)
    return {
      ok: false,
      status: 400,
      reason: `payload names no repository (${URL_FIELDS[sender]}), so nothing is polled`,
    };
  return { ok: true, event: ref ? { sender, urls, ref } : { sender, urls } };
}

const URL_FIELDS: Record<PushEvent["sender"], string> = {
  github: "repository.clone_url, ssh_url or html_url",
  gitlab: "project.git_http_url, git_ssh_url or web_url",
  generic: '{"url": "<repository URL>"} or repository.url',
};

function strings(...values: unknown[]): string[] {
  return values.filter((v): v is string => typeof v === "string" && v.length > 0);
}

function extract(sender: PushEvent["sender"], payload: unknown): { urls: string[]; ref?: string } {
  const p = (payload !== null && typeof payload === "object" ? payload : {}) as Record<string, unknown>;
  const ref = typeof p.ref === "string" ? p.ref : undefined;
  const withRef = (urls: string[]) => (ref ? { urls, ref } : { urls });
  const record = (v: unknown) => (v !== null && typeof v === "object" ? v : {}) as Record<string, unknown>;
  if (sender === "github") {
    const r = record(p.repository);
    return withRef(strings(r.clone_url, r.ssh_url, r.git_url, r.html_url, r.url));
  }
  if (sender === "gitlab") {
    const r = record(p.project ?? p.repository);
    return withRef(strings(r.git_http_url, r.git_ssh_url, r.web_url, r.http_url, r.ssh_url, r.url));
  }
  return withRef(strings(p.url, record(p.repository).url));
}

/**
 * Whether a GitRepository URL is one of the repositories a push names (https, ssh and scp-like
 * forms of one repository match). A push naming no repository matches nothing.
 */
export function pushConcerns(event: PushEvent, url: string): boolean {
  return event.urls.some((pushed) => repositoryIdentity(pushed) === repositoryIdentity(url));
}

/**
 * A URL reduced to host and path so that the https, ssh and scp-like forms of one repository
 * compare equal: `git@github.com:org/repo.git` and `https://github.com/org/repo` → `github.com/org/repo`.
 */
export function repositoryIdentity(url: string): string {
  const scp = /^(?:[^@/]+@)?([^:/]+):([^/].*)$/.exec(url);
  let host: string;
  let path: string;
  if (scp && !url.includes("://")) {
    host = scp[1]!;
    path = scp[2]!;
  } else {
    try {
      const u = new URL(url);
      host = u.host;
      path = u.pathname;
    } catch {
      return url;
    }
  }
  return `${host.toLowerCase()}/${path
    .replace(/^\/+/, "")
    .replace(/\.git$/, "")
    .replace(/\/+$/, "")}`;
}
