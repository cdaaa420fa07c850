import { sanitizeUrl } from "./errors.js";
import { isSshUrl } from "./ssh-url.js";

export interface UrlPolicy {
  /** Accept `http://` (`--allow-insecure-http`): credentials and content travel in the clear. */
  allowInsecureHttp?: boolean;
}

/**
 * Why the controller refuses to read a GitRepository URL, or undefined when it may. Only remote
 * transports are accepted, as Flux's GitRepository schema does: `https://`, `ssh://` and git's
 * scp-like `[user@]host:path`, and `http://` when the policy allows it. A `file://` URL or a path
 * (absolute or relative) would read any repository on the controller's disk — another tenant's
 * private repository in the git cache included — so it is refused whatever the policy.
 */
export function urlRefusal(url: string, policy: UrlPolicy = {}): string | undefined {
  const shown = sanitizeUrl(url);
  if (/^https:\/\//i.test(url)) return hasHost(url) ? undefined : `'${shown}' has no host (spec.url)`;
  if (/^http:\/\//i.test(url)) {
    if (!policy.allowInsecureHttp)
      return `'${shown}' is plain http, refused without --allow-insecure-http; use https:// or ssh:// (spec.url)`;
    return hasHost(url) ? undefined : `'${shown}' has no host (spec.url)`;
  }
  if (/^file:/i.test(url) || url.startsWith("/") || url.startsWith(".") || url.startsWith("~")) return onDisk(shown);
  if (isSshUrl(url)) return undefined;
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return onDisk(shown);
  return `'${shown}' is not a git URL the controller reads; use https://, ssh:// or git@host:path (spec.url)`;
}

function onDisk(shown: string): string {
  return `'${shown}' is a path on the controller's disk, which a GitRepository may not read; use https:// or ssh:// (spec.url)`;
}

function hasHost(url: string): boolean {
  try {
    return new URL(url).hostname !== "";
  } catch {
    return false;
  }
}
