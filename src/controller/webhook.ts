import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Push webhooks from GitHub, GitLab and generic senders. The token is in the path
 * (`/hook/<token>`) and is also the HMAC-SHA256 key of signed payloads, as Flux's Receiver uses
 * one Secret for both. A verified push names the repository URLs it concerns; an empty list means
 * "every repository" (a generic hook without a URL).
 */
export type PushEvent = { sender: "github" | "gitlab" | "generic"; urls: string[]; ref?: string };
export type WebhookVerdict = { ok: true; event: PushEvent } | { ok: false; status: number; reason: string };

type Headers = Record<string, string | string[] | undefined>;

function header(headers: Headers, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function hmacHex(secret: string, body: Buffer): string {
  return createHmac("sha256", secret).update(body).digest("hex");
}

/** Verifies and reads one webhook request; never throws on bad input. */
export function readPush(pathToken: string, expectedToken: string, headers: Headers, body: Buffer): WebhookVerdict {
  if (!sameSecret(pathToken, expectedToken)) return { ok: false, status: 404, reason: "unknown hook" };
  const githubEvent = header(headers, "x-github-event");
  const gitlabEvent = header(headers, "x-gitlab-event");
  let sender: PushEvent["sender"];
  if (githubEvent !== undefined) {
    const signature = header(headers, "x-hub-signature-256");
    if (!signature || !sameSecret(signature, `sha256=${hmacHex(expectedToken, body)}`)) {
      return { ok: false, status: 401, reason: "GitHub signature (X-Hub-Signature-256) does not match" };
    }
    if (githubEvent === "ping") return { ok: true, event: { sender: "github", urls: [] } };
    if (githubEvent !== "push") return { ok: false, status: 202, reason: `ignored GitHub event '${githubEvent}'` };
    sender = "github";
  } else if (gitlabEvent !== undefined) {
    const token = header(headers, "x-gitlab-token");
    if (!token || !sameSecret(token, expectedToken)) return { ok: false, status: 401, reason: "GitLab token (X-Gitlab-Token) does not match" };
    if (!/^(Push|Tag Push) Hook$/.test(gitlabEvent)) return { ok: false, status: 202, reason: `ignored GitLab event '${gitlabEvent}'` };
    sender = "gitlab";
  } else {
    const signature = header(headers, "x-signature") ?? header(headers, "x-hub-signature-256");
    if (!signature || !sameSecret(signature.replace(/^sha256=/, ""), hmacHex(expectedToken, body))) {
      return { ok: false, status: 401, reason: "signature (X-Signature: sha256=<hmac>) does not match" };
    }
    sender = "generic";
  }
  let payload: unknown = {};
  if (body.length > 0) {
    try {
      payload = JSON.parse(body.toString("utf8"));
    } catch {
      return { ok: false, status: 400, reason: "payload is not JSON" };
    }
  }
  return { ok: true, event: { sender, ...extract(sender, payload) } };
}

function strings(...values: unknown[]): string[] {
  return values.filter((v): v is string => typeof v === "string" && v.length > 0);
}

function extract(sender: PushEvent["sender"], payload: unknown): { urls: string[]; ref?: string } {
  const p = (payload ?? {}) as Record<string, Record<string, unknown> | unknown>;
  const ref = typeof p.ref === "string" ? p.ref : undefined;
  const withRef = (urls: string[]) => (ref ? { urls, ref } : { urls });
  if (sender === "github") {
    const r = (p.repository ?? {}) as Record<string, unknown>;
    return withRef(strings(r.clone_url, r.ssh_url, r.git_url, r.html_url, r.url));
  }
  if (sender === "gitlab") {
    const r = (p.project ?? p.repository ?? {}) as Record<string, unknown>;
    return withRef(strings(r.git_http_url, r.git_ssh_url, r.web_url, r.http_url, r.ssh_url, r.url));
  }
  return withRef(strings(p.url, (p.repository as Record<string, unknown> | undefined)?.url));
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
  return `${host.toLowerCase()}/${path.replace(/^\/+/, "").replace(/\.git$/, "").replace(/\/+$/, "")}`;
}
