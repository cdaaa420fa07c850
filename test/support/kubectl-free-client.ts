/* eslint-disable @typescript-eslint/no-explicit-any -- test responses are arbitrary JSON */
import https from "node:https";
import type { LocalControlPlane } from "../../src/provision/local/harness.js";

/** A minimal JSON client for tests: one request to a local control plane with its admin token. */
export function kube(cp: Pick<LocalControlPlane, "server" | "token" | "caCert">) {
  const request = (
    method: string,
    path: string,
    body?: unknown,
    contentType = "application/json",
  ): Promise<{ status: number; body: any }> =>
    new Promise((resolve, reject) => {
      const req = https.request(
        `${cp.server}${path}`,
        {
          method,
          ca: cp.caCert,
          headers: { Authorization: `Bearer ${cp.token}`, "Content-Type": contentType, Accept: "application/json" },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (d: Buffer) => chunks.push(d));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let parsed: unknown = text;
            try {
              parsed = JSON.parse(text);
            } catch {
              // not JSON
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
        },
      );
      req.on("error", reject);
      if (body !== undefined) req.write(typeof body === "string" ? body : JSON.stringify(body));
      req.end();
    });
  return {
    get: (path: string) => request("GET", path),
    post: (path: string, body: unknown) => request("POST", path, body),
    del: (path: string) => request("DELETE", path),
    apply: (path: string, body: unknown) =>
      request("PATCH", `${path}?fieldManager=test&force=true`, body, "application/apply-patch+yaml"),
    /** Polls `check` until it returns a value, failing after `ms`. */
    async until<T>(check: () => Promise<T | undefined | false>, ms = 60_000): Promise<T> {
      const deadline = Date.now() + ms;
      for (;;) {
        const v = await check();
        if (v !== undefined && v !== false) return v;
        if (Date.now() > deadline) throw new Error("condition not met in time");
        await new Promise((r) => setTimeout(r, 200));
      }
    },
  };
}
