import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, openSync } from "node:fs";
import net from "node:net";

const children = new Set<ChildProcess>();
let hooked = false;

function killAll(): void {
  for (const c of children) {
    try {
      c.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
}

/**
 * Starts a control-plane process that cannot outlive this one: it gets SIGKILL when Flotilla
 * exits (also on SIGKILL of Flotilla, through the kernel's parent-death signal via `setpriv`).
 * Output goes to `logFile`.
 */
export function spawnOwned(command: string, args: string[], logFile: string): ChildProcess {
  if (!hooked) {
    hooked = true;
    process.once("exit", killAll);
  }
  const log = openSync(logFile, "a");
  const setpriv = existsSync("/usr/bin/setpriv") ? "/usr/bin/setpriv" : undefined;
  const child = setpriv
    ? spawn(setpriv, ["--pdeathsig", "KILL", "--", command, ...args], { stdio: ["ignore", log, log] })
    : spawn(command, args, { stdio: ["ignore", log, log] });
  children.add(child);
  child.on("exit", () => children.delete(child));
  return child;
}

/** Stops a process: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopProcess(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const handedOut = new Set<number>();

/** `count` distinct free ports, none handed out before by this process (a closed port may be offered again at once). */
export async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = await freePort();
    if (!ports.includes(port) && !handedOut.has(port)) ports.push(port);
  }
  for (const p of ports) handedOut.add(p);
  return ports;
}
