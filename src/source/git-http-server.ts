import { execFileSync, spawn } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

/**
 * A real git smart-HTTP server (used by `flotilla up` and by tests): a Node HTTP server on 127.0.0.1 that runs
 * `git http-backend` as CGI over the repositories in `root`. Optional basic or bearer auth;
 * `stop()` closes it (also mid-run, to test a server that goes away).
 */
export interface GitHttpServer {
  url: string;
  /** Requests served, by "METHOD path?query". */
  requests: string[];
  stop(): Promise<void>;
}

export async function startGitHttpServer(
  root: string,
  auth?: { username?: string; password?: string; bearer?: string },
): Promise<GitHttpServer> {
  const backend = join(execFileSync("git", ["--exec-path"], { encoding: "utf8" }).trim(), "git-http-backend");
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    requests.push(`${req.method} ${url.pathname}${url.search}`);
    if (requests.length > 1000) requests.splice(0, requests.length - 1000);
    let user = "";
    if (auth) {
      const header = req.headers.authorization ?? "";
      const basic = header.startsWith("Basic ") ? Buffer.from(header.slice(6), "base64").toString("utf8") : undefined;
      const ok = auth.bearer ? header === `Bearer ${auth.bearer}` : basic === `${auth.username}:${auth.password}`;
      if (!ok) {
        res.writeHead(401, { "WWW-Authenticate": 'Basic realm="git"' });
        res.end("unauthorized");
        return;
      }
      user = auth.username ?? "token";
    }
    const cgi = spawn(backend, [], {
      env: {
        ...process.env,
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: "1",
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        REQUEST_METHOD: req.method ?? "GET",
        CONTENT_TYPE: req.headers["content-type"] ?? "",
        REMOTE_USER: user,
        REMOTE_ADDR: "127.0.0.1",
        ...(req.headers["git-protocol"] ? { GIT_PROTOCOL: String(req.headers["git-protocol"]) } : {}),
        ...(req.headers["content-encoding"] ? { HTTP_CONTENT_ENCODING: String(req.headers["content-encoding"]) } : {}),
      },
      stdio: ["pipe", "pipe", "inherit"],
    });
    req.pipe(cgi.stdin);
    const chunks: Buffer[] = [];
    cgi.stdout.on("data", (d: Buffer) => chunks.push(d));
    cgi.on("close", () => {
      const out = Buffer.concat(chunks);
      const split = out.indexOf("\r\n\r\n");
      const headerEnd = split >= 0 ? split : out.indexOf("\n\n");
      const sep = split >= 0 ? 4 : 2;
      const headers: Record<string, string> = {};
      let status = 200;
      for (const line of out.subarray(0, headerEnd).toString("utf8").split(/\r?\n/)) {
        const i = line.indexOf(":");
        if (i < 0) continue;
        const k = line.slice(0, i).trim();
        const v = line.slice(i + 1).trim();
        if (k.toLowerCase() === "status") status = Number(v.split(" ")[0]);
        else headers[k] = v;
      }
      res.writeHead(status, headers);
      res.end(out.subarray(headerEnd + sep));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
