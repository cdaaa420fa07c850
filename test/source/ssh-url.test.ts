import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkHostKey, hostKeyAlgorithms, hostMatches, parseKnownHosts } from "../../src/source/ssh-known-hosts.js";
import { isSshUrl, parseSshUrl, shellQuote } from "../../src/source/ssh-url.js";
import { tuneUploadPackRequest } from "../../src/source/thin-pack.js";
import { generateKeyPair, type KeyPair } from "../support/sshd.js";

describe("SSH URLs as git reads them", () => {
  it.each([
    ["ssh://git@github.com/org/repo.git", { user: "git", host: "github.com", port: 22, path: "/org/repo.git" }],
    [
      "ssh://deploy@git.example.com:2222/srv/git/platform.git",
      { user: "deploy", host: "git.example.com", port: 2222, path: "/srv/git/platform.git" },
    ],
    ["ssh://example.com/~alice/repo", { user: "git", host: "example.com", port: 22, path: "~alice/repo" }],
    ["ssh://git@[::1]:2200/repo", { user: "git", host: "::1", port: 2200, path: "/repo" }],
    ["git+ssh://git@host/a%20b.git", { user: "git", host: "host", port: 22, path: "/a b.git" }],
    ["git@github.com:org/repo.git", { user: "git", host: "github.com", port: 22, path: "org/repo.git" }],
    ["host.example:/abs/repo", { user: "git", host: "host.example", port: 22, path: "/abs/repo" }],
    ["git@[127.0.0.1:2222]:org/repo", { user: "git", host: "127.0.0.1", port: 2222, path: "org/repo" }],
    ["[deploy@127.0.0.1:2222]:org/repo", { user: "deploy", host: "127.0.0.1", port: 2222, path: "org/repo" }],
  ])("%s", (url, want) => {
    expect(isSshUrl(url)).toBe(true);
    expect(parseSshUrl(url)).toMatchObject(want);
  });

  it("leaves other URLs alone and names what is wrong", () => {
    for (const url of ["https://host/repo", "/srv/repo", "./repo", "file:///srv/repo"])
      expect(isSshUrl(url)).toBe(false);
    expect(() => parseSshUrl("ssh://host")).toThrow(/has no repository path/);
    expect(() => parseSshUrl("ssh://u:secret@host/repo")).toThrow(/a password in an SSH URL is not supported/);
    expect(() => parseSshUrl("ssh://u:secret@host/repo")).not.toThrow(/secret/);
  });

  it("quotes the path for the remote shell as git does", () => {
    expect(shellQuote("/srv/it's here!")).toBe(`'/srv/it'\\''s here'\\!''`);
  });
});

describe("known_hosts", () => {
  let dir: string;
  let a: KeyPair;
  let b: KeyPair;
  const blob = (k: KeyPair) => Buffer.from(k.public.split(/\s+/)[1]!, "base64");
  const line = (hosts: string, k: KeyPair) => `${hosts} ${k.public.split(/\s+/).slice(0, 2).join(" ")}`;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "flotilla-kh-"));
    a = generateKeyPair(dir, "a", "ed25519");
    b = generateKeyPair(dir, "b", "ecdsa");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("matches hashed entries written by ssh-keygen -H, for port 22 and [host]:port", () => {
    const file = join(dir, "known_hosts");
    writeFileSync(file, `${line("git.example.com", a)}\n${line("[10.0.0.5]:2222", a)}\n`);
    execFileSync("ssh-keygen", ["-H", "-f", file], { stdio: "ignore" });
    const entries = parseKnownHosts(readFileSync(file, "utf8"));
    expect(entries.every((e) => e.hosts.startsWith("|1|"))).toBe(true);
    expect(checkHostKey(entries, "git.example.com", blob(a))).toEqual({ ok: true });
    expect(checkHostKey(entries, "[10.0.0.5]:2222", blob(a))).toEqual({ ok: true });
    expect(checkHostKey(entries, "10.0.0.5", blob(a)).ok).toBe(false);
    expect(checkHostKey(entries, "git.example.com", blob(b))).toMatchObject({ ok: false, reason: "mismatch" });
  });

  it("patterns: comma lists, wildcards and negation, as OpenSSH matches them", () => {
    expect(hostMatches("github.com,140.82.112.3", "140.82.112.3")).toBe(true);
    expect(hostMatches("*.example.com,!evil.example.com", "git.example.com")).toBe(true);
    expect(hostMatches("*.example.com,!evil.example.com", "evil.example.com")).toBe(false);
    expect(hostMatches("[git.example.com]:22?2", "[git.example.com]:2222")).toBe(true);
    expect(hostMatches("git.example.com", "[git.example.com]:2222")).toBe(false);
  });

  it("a revoked key is refused even when listed, unknown hosts are never trusted, damaged lines name their line", () => {
    const entries = parseKnownHosts(
      `# comment\n\n${line("h", a)}\n@revoked ${line("h", b)}\n@cert-authority ${line("*.ca", a)}`,
    );
    expect(entries).toHaveLength(2);
    expect(checkHostKey(entries, "h", blob(b))).toMatchObject({ ok: false, reason: "revoked" });
    expect(checkHostKey(entries, "other", blob(a))).toMatchObject({ ok: false, reason: "unknown" });
    expect(hostKeyAlgorithms(entries, "h")).toEqual(["ssh-ed25519"]);
    expect(hostKeyAlgorithms(parseKnownHosts("h ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ=="), "h")).toEqual([
      "rsa-sha2-512",
      "rsa-sha2-256",
      "ssh-rsa",
    ]);
    expect(() => parseKnownHosts(`${line("h", a)}\nh ssh-ed25519 AAAAB3NzaC1yc2E=`)).toThrow(
      /known_hosts line 2: the key for 'h' is not a valid ssh-ed25519 key/,
    );
    expect(() => parseKnownHosts("justonefield")).toThrow(/known_hosts line 1/);
  });
});

describe("upload-pack request tuning", () => {
  const pkt = (s: string) => `${(s.length + 4).toString(16).padStart(4, "0")}${s}`;
  const [a, b, c] = ["a", "b", "c"].map((x) => x.repeat(40));
  it("asks for a thin pack on the first want line and offers every shallow commit as have", () => {
    const body = Buffer.from(
      `${pkt(`want ${a} multi_ack_detailed side-band-64k ofs-delta\n`)}${pkt(`want ${b}\n`)}${pkt(`shallow ${b}\n`)}${pkt(`shallow ${c}\n`)}${pkt("deepen 1\n")}0000${pkt(`have ${c}\n`)}${pkt("done\n")}`,
    );
    expect(tuneUploadPackRequest(body).toString()).toBe(
      `${pkt(`want ${a} multi_ack_detailed side-band-64k ofs-delta thin-pack\n`)}${pkt(`want ${b}\n`)}${pkt(`shallow ${b}\n`)}${pkt(`shallow ${c}\n`)}${pkt("deepen 1\n")}0000${pkt(`have ${c}\n`)}${pkt(`have ${b}\n`)}${pkt("done\n")}`,
    );
  });
  it("leaves protocol v2 commands and malformed bodies unchanged", () => {
    const v2 = Buffer.from(`${pkt("command=ls-refs\n")}0000`);
    expect(tuneUploadPackRequest(v2)).toBe(v2);
    const broken = Buffer.from(`${pkt(`want ${a} ofs-delta\n`)}00`);
    expect(tuneUploadPackRequest(broken)).toBe(broken);
  });
});
