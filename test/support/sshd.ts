import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** An SSH key pair made by ssh-keygen (OpenSSH format private key). */
export interface KeyPair {
  /** The private key file's text. */
  private: string;
  /** `type base64 comment` */
  public: string;
}

/** Generates a key pair with the real ssh-keygen (`ed25519`, `rsa`, `ecdsa`); `format: "pem"` writes a PEM private key. */
export function generateKeyPair(
  dir: string,
  name: string,
  type: "ed25519" | "rsa" | "ecdsa" = "ed25519",
  format: "openssh" | "pem" = "openssh",
): KeyPair {
  const file = join(dir, name);
  rmSync(file, { force: true });
  rmSync(`${file}.pub`, { force: true });
  const args = [
    "-q",
    "-t",
    type,
    "-N",
    "",
    "-C",
    `${name}@flotilla-test`,
    "-f",
    file,
    ...(type === "rsa" ? ["-b", "2048"] : []),
    ...(format === "pem" ? ["-m", "PEM"] : []),
  ];
  execFileSync("ssh-keygen", args, { stdio: "ignore" });
  return { private: readFileSync(file, "utf8"), public: readFileSync(`${file}.pub`, "utf8").trim() };
}

export interface Sshd {
  host: string;
  port: number;
  /** The server's host public key (`ssh-ed25519 AAAA… comment`). */
  hostKey: string;
  /** A known_hosts line for this server (`[127.0.0.1]:port type key`). */
  knownHosts: string;
  /** Appends a public key to authorized_keys. */
  authorize(publicKey: string): void;
  /** sshd's log (stderr), for diagnosing a failed test. */
  log(): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once something on host:port greets with an SSH banner. */
async function waitForBanner(
  host: string,
  port: number,
  child: ChildProcess,
  log: () => string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`sshd exited with ${child.exitCode}: ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, host);
      socket.setTimeout(1000);
      socket.once("data", (d) => {
        socket.destroy();
        resolve(d.toString("latin1").startsWith("SSH-2.0-"));
      });
      socket.once("error", () => resolve(false));
      socket.once("timeout", () => {
        socket.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`sshd did not answer on ${host}:${port} within ${timeoutMs} ms: ${log()}`);
}

/**
 * Starts Debian's real OpenSSH server (`/usr/sbin/sshd -D -e -f <generated config>`) as the current
 * user on a free loopback port, with its own ed25519 host key and an authorized_keys file of its own;
 * only public-key logins, and `GIT_PROTOCOL` passed through as git's servers do. Logins run the
 * user's shell, so `git-upload-pack` must be on the default PATH.
 */
export async function startSshd(options: { authorizedKeys?: string[] } = {}): Promise<Sshd> {
  const sshd = "/usr/sbin/sshd";
  if (!existsSync(sshd)) throw new Error(`${sshd} is missing: run test/setup.sh (installs openssh-server)`);
  const dir = mkdtempSync(join(tmpdir(), "flotilla-sshd-"));
  // Run as root, sshd needs its privilege-separation directory (made at boot on a full system).
  if (process.getuid?.() === 0 && !existsSync("/run/sshd")) mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const hostKey = generateKeyPair(dir, "host_ed25519", "ed25519");
  const authorizedKeys = join(dir, "authorized_keys");
  writeFileSync(authorizedKeys, (options.authorizedKeys ?? []).map((k) => `${k.trim()}\n`).join(""), { mode: 0o600 });
  const host = "127.0.0.1";
  const port = await freePort();
  const config = join(dir, "sshd_config");
  writeFileSync(
    config,
    [
      `Port ${port}`,
      `ListenAddress ${host}`,
      `HostKey ${join(dir, "host_ed25519")}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      // The files live under /tmp, which is world-writable: StrictModes would refuse them.
      "StrictModes no",
      "UsePAM no",
      "PubkeyAuthentication yes",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PermitRootLogin prohibit-password",
      "AcceptEnv GIT_PROTOCOL",
      // Debian's bash sources ~/.bashrc for commands run over SSH unless it is a nested shell; the
      // test server's logins should not pay for (or depend on) this machine's shell start-up files.
      "SetEnv SHLVL=1",
      "LogLevel VERBOSE",
      "",
    ].join("\n"),
  );
  const child = spawn(sshd, ["-D", "-e", "-f", config], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString("utf8");
    if (stderr.length > 100_000) stderr = stderr.slice(-50_000);
  });
  const log = () => stderr;
  // sshd -D outlives a test process that exits without stop(): end it with this process.
  const killOnExit = () => child.kill("SIGTERM");
  process.once("exit", killOnExit);
  child.once("exit", () => process.off("exit", killOnExit));
  try {
    await waitForBanner(host, port, child, log);
  } catch (error) {
    child.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const hostPublic = hostKey.public.split(/\s+/).slice(0, 2).join(" ");
  return {
    host,
    port,
    hostKey: hostKey.public,
    knownHosts: `[${host}]:${port} ${hostPublic}`,
    authorize(publicKey) {
      writeFileSync(authorizedKeys, `${publicKey.trim()}\n`, { flag: "a" });
    },
    log,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
