import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Checks } from "./checks.js";
import { printJson, printTable } from "./report.js";

const SERVER = join(import.meta.dirname, "webhook-server.js");
const MiB = 2 ** 20;

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

async function startServer(): Promise<{ child: ChildProcess; url: URL }> {
  const child = spawn(process.execPath, [SERVER], { stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<URL>((resolve, reject) => {
    lines.once("line", (line) => resolve(new URL((JSON.parse(line) as { url: string }).url)));
    child.once("exit", (code) => reject(new Error(`webhook server exited ${code}`)));
  });
  return { child, url };
}

interface Held {
  socket: net.Socket;
  /** The answer's status, "closed" when the server ended the connection before its answer arrived (a reset loses it). */
  status?: number | "closed";
  settled: Promise<void>;
}

/**
 * One upload that never finishes: headers announcing `bytes` bytes, then all of them but the last. Settles once the body left this process or the server answered.
 */
function holdUpload(url: URL, path: string, bytes: number): Held {
  const socket = net.connect(Number(url.port), url.hostname);
  socket.on("error", () => {});
  const held: Held = { socket, settled: Promise.resolve() };
  held.settled = new Promise<void>((resolve) => {
    let text = "";
    socket.on("data", (d: Buffer) => {
      text += d.toString("latin1");
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (m && held.status === undefined) held.status = Number(m[1]);
      resolve();
    });
    socket.on("close", () => {
      held.status ??= "closed";
      resolve();
    });
    socket.write(
      `POST ${path} HTTP/1.1\r\nhost: ${url.host}\r\ncontent-type: application/json\r\nx-signature: sha256=00\r\ncontent-length: ${bytes}\r\n\r\n`,
    );
    socket.write(Buffer.alloc(bytes - 1, 0x20), () => resolve());
  });
  return held;
}

async function healthzMillis(url: URL): Promise<number> {
  const started = performance.now();
  const res = await fetch(new URL("/healthz", url), { signal: AbortSignal.timeout(10_000) });
  await res.text();
  return res.status === 200 ? performance.now() - started : Number.POSITIVE_INFINITY;
}

/**
 * Hostile webhook traffic against the controller's HTTP server in a process of its own: 60
 * uploads of 4 MiB each held open (the last byte never sent), to an unknown token and to the
 * right one, then 60 held uploads small enough for the body cap. Measures the server's resident
 * memory before and while they are held, and whether /healthz still answers.
 * Goals: the server's RSS grows by less than 32 MiB in each case; /healthz answers within 1 s.
 */
export async function run(): Promise<void> {
  const checks = new Checks("webhook");
  const uploads = Number(process.env.WEBHOOK_BENCH_UPLOADS ?? 60);
  const cases: Array<{ case: string; path: string; bytes: number; expect: Array<Held["status"]> }> = [
    { case: "unknown token, 4 MiB", path: "/hook/not-the-token", bytes: 4 * MiB, expect: [404, "closed"] },
    { case: "right token, 4 MiB", path: "/hook/bench-token", bytes: 4 * MiB, expect: [413, "closed"] },
    { case: "right token, 512 KiB", path: "/hook/bench-token", bytes: MiB / 2, expect: [undefined, 503, "closed"] },
  ];
  const rows = [];
  for (const c of cases) {
    const { child, url } = await startServer();
    try {
      await new Promise((r) => setTimeout(r, 300));
      const before = rssMiB(child.pid!);
      const held = Array.from({ length: uploads }, () => holdUpload(url, c.path, c.bytes));
      await Promise.race([Promise.all(held.map((h) => h.settled)), new Promise((r) => setTimeout(r, 20_000))]);
      let peak = 0;
      for (let i = 0; i < 10; i++) {
        await new Promise((r) => setTimeout(r, 100));
        peak = Math.max(peak, rssMiB(child.pid!));
      }
      const healthz = await healthzMillis(url);
      const statuses = new Map<string, number>();
      for (const h of held)
        statuses.set(String(h.status ?? "held"), (statuses.get(String(h.status ?? "held")) ?? 0) + 1);
      const answered = held.filter((h) => c.expect.includes(h.status)).length;
      const growth = peak - before;
      rows.push({
        case: c.case,
        uploads,
        answers: [...statuses].map(([s, n]) => `${n}×${s}`).join(" "),
        "RSS before MiB": Math.round(before),
        "RSS held MiB": Math.round(peak),
        "growth MiB": Math.round(growth),
        "healthz ms": Number.isFinite(healthz) ? Math.round(healthz) : null,
        goal: checks.goal(
          growth < 32 && healthz < 1000,
          `${c.case}: RSS grew ${growth.toFixed(1)} MiB (< 32), /healthz ${healthz.toFixed(0)} ms (< 1000)`,
        ),
      });
      checks.check(
        answered === uploads,
        `${c.case}: ${answered} of ${uploads} uploads answered ${c.expect.map((s) => s ?? "held").join(" or ")}, got ${JSON.stringify([...statuses])}`,
      );
      // At most the hooks being read (8) may still be held open; every other upload was refused.
      checks.check(
        held.filter((h) => h.status === undefined).length <= 8,
        `${c.case}: ${held.filter((h) => h.status === undefined).length} uploads still held (at most 8 are read at once)`,
      );
      for (const h of held) h.socket.destroy();
    } finally {
      child.kill("SIGTERM");
    }
  }
  printTable(
    `webhook: ${uploads} held uploads against the controller's HTTP server (goals: RSS growth < 32 MiB, /healthz < 1 s)`,
    rows,
  );
  for (const row of rows) printJson("webhook", row);
  checks.done();
}
