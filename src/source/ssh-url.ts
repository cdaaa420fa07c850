import { InvalidInputError } from "../core/errors.js";

/** Where an SSH git remote lives: the account, the server and the repository path on it. */
export interface SshRemote {
  user: string;
  host: string;
  port: number;
  /** The path as git passes it to `git-upload-pack` (relative to the login directory when it does not start with `/`). */
  path: string;
  /** The URL without credentials, for messages. */
  display: string;
}

const schemeUrl = /^(?:ssh|git\+ssh|ssh\+git):\/\//;
const anyScheme = /^[a-z][a-z0-9+.-]*:\/\//i;
// git's "scp-like syntax": [user@]host:path, where no '/' comes before the ':'; a bracketed host
// may carry a port, as git accepts it: `[host:port]:path`, `user@[host:port]:path`, `[user@host:port]:path`.
const scpLike = /^(?:([^@/:[\]\s]+)@)?(\[[^\]/\s]+\]|[^@/:[\]\s]+):(.+)$/;

/** True when `url` names an SSH remote: `ssh://…` or git's scp-like `[user@]host:path`. */
export function isSshUrl(url: string): boolean {
  // As git: anything with `scheme://` is a URL, so `file:///x` and `https://x` are never scp-like.
  return schemeUrl.test(url) || (!anyScheme.test(url) && scpLike.test(url));
}

/**
 * Parses `ssh://[user@]host[:port]/path` and scp-like `[user@]host:path` the way git does: no user
 * means `git` (Flux's default), no port means 22, and `ssh://host/~user/repo` keeps the `~` path.
 */
export function parseSshUrl(url: string): SshRemote {
  const bad = (why: string) =>
    new InvalidInputError(`'${url.replace(/\/\/[^@/]+@/, "//")}' is not an SSH git URL: ${why}`, { field: "spec.url" });
  if (schemeUrl.test(url)) {
    let u: URL;
    try {
      u = new URL(url.replace(schemeUrl, "ssh://"));
    } catch {
      throw bad("it does not parse as a URL");
    }
    if (u.password) throw bad("a password in an SSH URL is not supported; put the key in the Secret's identity");
    if (!u.hostname) throw bad("it has no host");
    let path = decodeURIComponent(u.pathname);
    if (path === "" || path === "/") throw bad("it has no repository path");
    if (path.startsWith("/~")) path = path.slice(1);
    const host = u.hostname.replace(/^\[(.*)\]$/, "$1");
    const port = u.port ? Number(u.port) : 22;
    const user = u.username ? decodeURIComponent(u.username) : "git";
    return { user, host, port, path, display: `ssh://${user}@${u.host}${u.pathname}` };
  }
  const m = anyScheme.test(url) ? null : scpLike.exec(url);
  if (!m) throw bad("expected ssh://[user@]host[:port]/path or [user@]host:path");
  let user = m[1];
  let host = m[2]!;
  let port = 22;
  const path = m[3]!;
  if (host.startsWith("[")) {
    let inner = host.slice(1, -1);
    const at = inner.lastIndexOf("@");
    if (at >= 0) {
      if (user) throw bad("two user names");
      user = inner.slice(0, at);
      inner = inner.slice(at + 1);
    }
    const colon = inner.lastIndexOf(":");
    // `[host:2222]` carries a port; `[::1]` (more than one ':') is an IPv6 address without one.
    if (colon > 0 && inner.indexOf(":") === colon && /^\d+$/.test(inner.slice(colon + 1))) {
      port = Number(inner.slice(colon + 1));
      inner = inner.slice(0, colon);
    }
    host = inner;
  }
  if (!host) throw bad("it has no host");
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad(`port ${port} is out of range`);
  user ??= "git";
  return {
    user,
    host,
    port,
    path,
    display: port === 22 ? `${user}@${host}:${path}` : `${user}@[${host}:${port}]:${path}`,
  };
}

/** Quotes `s` for the remote shell as git does (`'…'`, with `'` and `!` escaped). */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, "'\\''").replace(/!/g, "'\\!'")}'`;
}

/** The name a host goes by in known_hosts: `host` on port 22, `[host]:port` elsewhere. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}
