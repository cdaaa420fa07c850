import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { InvalidInputError } from "../core/errors.js";

/** One usable line of an OpenSSH known_hosts file. */
export interface KnownHost {
  /** `|1|salt|hash` for a hashed entry, else comma-separated patterns (`host`, `[host]:port`, `*.example.com`, `!bad`). */
  hosts: string;
  /** `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`, … */
  keyType: string;
  /** The public key blob (the base64 field, decoded). */
  key: Buffer;
  revoked: boolean;
  /** 1-based line in the Secret's `known_hosts`. */
  line: number;
}

/**
 * Parses known_hosts text (plain and hashed `|1|` entries, `[host]:port`, wildcards, `@revoked`).
 * `@cert-authority` lines are skipped: host certificates are not supported. A malformed line is
 * an error that names its line number, never its content beyond the host field.
 */
export function parseKnownHosts(text: string): KnownHost[] {
  const entries: KnownHost[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    const fields = line.split(/\s+/);
    let revoked = false;
    if (fields[0]!.startsWith("@")) {
      const marker = fields.shift()!;
      if (marker === "@cert-authority") return;
      if (marker !== "@revoked")
        throw new InvalidInputError(`known_hosts line ${i + 1}: unknown marker '${marker}'`, { field: "known_hosts" });
      revoked = true;
    }
    const [hosts, keyType, b64] = fields;
    if (!hosts || !keyType || !b64)
      throw new InvalidInputError(`known_hosts line ${i + 1}: expected 'hosts key-type base64-key'`, {
        field: "known_hosts",
      });
    const key = Buffer.from(b64, "base64");
    // The blob starts with its own type as an SSH string; a mismatch means a damaged line.
    const len = key.length >= 4 ? key.readUInt32BE(0) : -1;
    if (len < 0 || key.subarray(4, 4 + len).toString("latin1") !== keyType) {
      throw new InvalidInputError(
        `known_hosts line ${i + 1}: the key for '${hosts.startsWith("|1|") ? "(hashed host)" : hosts}' is not a valid ${keyType} key`,
        { field: "known_hosts" },
      );
    }
    entries.push({ hosts, keyType, key, revoked, line: i + 1 });
  });
  return entries;
}

/** Glob match as OpenSSH's match_pattern: `*` any run, `?` one character, case-insensitive. */
function globMatch(name: string, pattern: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|\\]/g, "\\$&")
      .replace(/\[/g, "\\[")
      .replace(/\]/g, "\\]")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
    "i",
  );
  return re.test(name);
}

/** True when an entry's host field names `name` (`host` or `[host]:port`). */
export function hostMatches(hosts: string, name: string): boolean {
  if (hosts.startsWith("|1|")) {
    const [, , salt, hash] = hosts.split("|");
    if (!salt || !hash) return false;
    const want = Buffer.from(hash, "base64");
    const got = createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest();
    return want.length === got.length && timingSafeEqual(want, got);
  }
  let matched = false;
  for (const pattern of hosts.split(",")) {
    if (pattern.startsWith("!")) {
      if (globMatch(name, pattern.slice(1))) return false;
    } else if (globMatch(name, pattern)) matched = true;
  }
  return matched;
}

/** `SHA256:…` as `ssh-keygen -l` prints it. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
}

/** The key type a blob declares. */
export function keyTypeOf(key: Buffer): string {
  return key.length >= 4 ? key.subarray(4, 4 + key.readUInt32BE(0)).toString("latin1") : "unknown";
}

export type HostKeyVerdict = { ok: true } | { ok: false; reason: "unknown" | "mismatch" | "revoked"; message: string };

/**
 * Decides on a server's host key as OpenSSH with StrictHostKeyChecking=yes does: accepted only
 * when a non-revoked entry for `name` holds exactly this key; a host with no entry is unknown
 * (never trusted on first use); a host whose entries hold other keys is a mismatch.
 */
export function checkHostKey(entries: readonly KnownHost[], name: string, key: Buffer): HostKeyVerdict {
  const forHost = entries.filter((e) => hostMatches(e.hosts, name));
  const described = `${keyTypeOf(key)} ${fingerprint(key)}`;
  if (forHost.some((e) => e.revoked && e.key.equals(key))) {
    return {
      ok: false,
      reason: "revoked",
      message: `the host key of ${name} (${described}) is marked @revoked in known_hosts`,
    };
  }
  if (forHost.some((e) => !e.revoked && e.key.equals(key))) return { ok: true };
  const known = forHost.filter((e) => !e.revoked);
  if (known.length === 0) {
    return {
      ok: false,
      reason: "unknown",
      message: `host ${name} is not in the Secret's known_hosts (it presented ${described}); add its key, e.g. from ssh-keyscan, after checking it`,
    };
  }
  return {
    ok: false,
    reason: "mismatch",
    message: `host key mismatch for ${name}: it presented ${described}, known_hosts line${known.length > 1 ? "s" : ""} ${known.map((e) => e.line).join(", ")} hold${known.length > 1 ? "" : "s"} ${known.map((e) => `${e.keyType} ${fingerprint(e.key)}`).join(", ")}; refusing to connect (possible man-in-the-middle)`,
  };
}

/**
 * The host-key algorithms to offer for `name`: those of its known_hosts entries, so that a server
 * with several keys presents one that can be checked (as OpenSSH orders them). Undefined when the
 * host has no entry.
 */
export function hostKeyAlgorithms(entries: readonly KnownHost[], name: string): string[] | undefined {
  const types = new Set(entries.filter((e) => !e.revoked && hostMatches(e.hosts, name)).map((e) => e.keyType));
  if (types.size === 0) return undefined;
  const out: string[] = [];
  for (const t of types) {
    if (t === "ssh-rsa") out.push("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa");
    else out.push(t);
  }
  return out;
}
