import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { pushConcerns, readPush, repositoryIdentity, sameSecret } from "../../src/controller/webhook.js";

const secret = "s3cret-hmac-key";
const sign = (body: Buffer, key = secret) => createHmac("sha256", key).update(body).digest("hex");
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

describe("readPush with a receiver secret", () => {
  it("accepts a GitHub push signed with the secret and names the repository URLs", () => {
    const body = json({
      ref: "refs/heads/main",
      repository: { clone_url: "https://github.com/o/r.git", ssh_url: "git@github.com:o/r.git" },
    });
    const verdict = readPush(secret, { "x-github-event": "push", "x-hub-signature-256": `sha256=${sign(body)}` }, body);
    expect(verdict).toEqual({
      ok: true,
      event: {
        sender: "github",
        ref: "refs/heads/main",
        urls: ["https://github.com/o/r.git", "git@github.com:o/r.git"],
      },
    });
  });

  it("refuses a GitHub push that is unsigned, signed with another key, or tampered with", () => {
    const body = json({ repository: { clone_url: "https://github.com/o/r.git" } });
    expect(readPush(secret, { "x-github-event": "push" }, body)).toMatchObject({ ok: false, status: 401 });
    expect(
      readPush(secret, { "x-github-event": "push", "x-hub-signature-256": `sha256=${sign(body, "url-token")}` }, body),
    ).toMatchObject({
      ok: false,
      status: 401,
    });
    expect(
      readPush(
        secret,
        { "x-github-event": "push", "x-hub-signature-256": `sha256=${sign(body)}` },
        json({ repository: { clone_url: "https://evil/x" } }),
      ),
    ).toMatchObject({ ok: false, status: 401 });
  });

  it("checks GitLab's token header against the secret", () => {
    const body = json({ project: { git_http_url: "https://gitlab.com/g/r.git" } });
    expect(readPush(secret, { "x-gitlab-event": "Push Hook", "x-gitlab-token": secret }, body)).toMatchObject({
      ok: true,
      event: { urls: ["https://gitlab.com/g/r.git"] },
    });
    expect(readPush(secret, { "x-gitlab-event": "Push Hook", "x-gitlab-token": "nope" }, body)).toMatchObject({
      ok: false,
      status: 401,
    });
  });

  it("refuses a signed push that names no repository instead of polling every source", () => {
    for (const body of [Buffer.alloc(0), json({ ref: "refs/heads/main" }), json({ url: "" }), json(null)]) {
      const verdict = readPush(secret, { "x-signature": `sha256=${sign(body)}` }, body);
      expect(verdict, body.toString()).toMatchObject({ ok: false, status: 400 });
      expect(verdict.ok ? "" : verdict.reason).toContain("names no repository");
    }
  });
});

describe("readPush without a receiver secret (the URL token is the only credential)", () => {
  it("refuses every signature scheme, since the URL token is not a signing key", () => {
    const urlToken = "the-token-in-the-url";
    const body = json({ url: "https://git.example.com/platform" });
    const attempts = [
      { "x-signature": `sha256=${sign(body, urlToken)}` },
      { "x-github-event": "push", "x-hub-signature-256": `sha256=${sign(body, urlToken)}` },
      { "x-gitlab-event": "Push Hook", "x-gitlab-token": urlToken },
    ];
    for (const headers of attempts) {
      const verdict = readPush(undefined, headers, body);
      expect(verdict, JSON.stringify(headers)).toMatchObject({ ok: false, status: 401 });
      expect(verdict.ok ? "" : verdict.reason).toContain("FLOTILLA_WEBHOOK_SECRET");
    }
  });

  it("accepts an unsigned push that names its repository, as Flux's generic Receiver does", () => {
    expect(readPush(undefined, {}, json({ url: "https://git.example.com/platform" }))).toEqual({
      ok: true,
      event: { sender: "generic", urls: ["https://git.example.com/platform"] },
    });
    expect(readPush(undefined, {}, Buffer.alloc(0))).toMatchObject({ ok: false, status: 400 });
  });
});

describe("pushConcerns", () => {
  it("matches the pushed repository in any URL form, and a push naming none matches nothing", () => {
    const event = { sender: "github" as const, urls: ["git@github.com:org/platform.git"] };
    expect(pushConcerns(event, "https://github.com/org/platform")).toBe(true);
    expect(pushConcerns(event, "https://github.com/org/other")).toBe(false);
    expect(pushConcerns({ sender: "generic", urls: [] }, "https://github.com/org/platform")).toBe(false);
  });
});

describe("sameSecret", () => {
  it("compares strings of any length without throwing", () => {
    expect(sameSecret("abc", "abc")).toBe(true);
    expect(sameSecret("abc", "abcd")).toBe(false);
    expect(sameSecret("", "x".repeat(10_000))).toBe(false);
  });
});

describe("repositoryIdentity", () => {
  it("makes https, ssh and scp-like forms of one repository equal", () => {
    const id = "github.com/org/repo";
    expect(repositoryIdentity("https://github.com/org/repo.git")).toBe(id);
    expect(repositoryIdentity("ssh://git@github.com/org/repo")).toBe(id);
    expect(repositoryIdentity("git@github.com:org/repo.git")).toBe(id);
  });
});
