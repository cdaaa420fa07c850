/** Links into the web UI of the forge that hosts a remote (GitHub or GitLab), for release notes and promote. */
export interface ForgeLinks {
  kind: "github" | "gitlab";
  /** `https://github.com/org/repo` */
  web: string;
  pullRequest(n: number): string;
  compare(from: string, to: string): string;
  /** The page that opens a pull/merge request for `branch` into `base`. */
  newPullRequest(branch: string, base: string): string;
}

/**
 * Recognizes GitHub and GitLab remotes in every URL form git accepts (https, ssh://, scp-like
 * `git@host:org/repo.git`), credentials stripped. Other hosts: undefined.
 */
export function forgeLinks(remoteUrl: string): ForgeLinks | undefined {
  const parsed = hostAndPath(remoteUrl);
  if (!parsed) return undefined;
  const { host, path } = parsed;
  const kind =
    host === "github.com" || host.startsWith("github.")
      ? "github"
      : host === "gitlab.com" || host.startsWith("gitlab.")
        ? "gitlab"
        : undefined;
  if (!kind) return undefined;
  const web = `https://${host}/${path}`;
  if (kind === "github") {
    return {
      kind,
      web,
      pullRequest: (n) => `${web}/pull/${n}`,
      compare: (from, to) => `${web}/compare/${encodeURIComponent(from)}...${encodeURIComponent(to)}`,
      newPullRequest: (branch, base) =>
        `${web}/compare/${encodeURIComponent(base)}...${encodeURIComponent(branch)}?expand=1`,
    };
  }
  return {
    kind,
    web,
    pullRequest: (n) => `${web}/-/merge_requests/${n}`,
    compare: (from, to) => `${web}/-/compare/${encodeURIComponent(from)}...${encodeURIComponent(to)}`,
    newPullRequest: (branch, base) =>
      `${web}/-/merge_requests/new?merge_request%5Bsource_branch%5D=${encodeURIComponent(branch)}&merge_request%5Btarget_branch%5D=${encodeURIComponent(base)}`,
  };
}

function hostAndPath(url: string): { host: string; path: string } | undefined {
  const scp = /^(?:[^@/]+@)?(?<host>[^:/]+):(?<path>[^/].*)$/.exec(url);
  if (scp?.groups && !url.includes("://")) return { host: scp.groups.host!, path: trimRepoPath(scp.groups.path!) };
  try {
    const u = new URL(url);
    if (!["http:", "https:", "ssh:", "git:"].includes(u.protocol)) return undefined;
    return { host: u.hostname, path: trimRepoPath(u.pathname.replace(/^\//, "")) };
  } catch {
    return undefined;
  }
}

function trimRepoPath(path: string): string {
  return path.replace(/\.git$/, "").replace(/\/$/, "");
}
