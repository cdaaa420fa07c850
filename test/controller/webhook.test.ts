import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { readPush, repositoryIdentity } from "../../src/controller/webhook.js";

const token = "s3cret-token";
const sign = (body: Buffer) => createHmac("sha256", token).update(body).digest("hex");

describe("readPush", () => {
  it("accepts a GitHub push with a valid signature and names the repository URLs", () => {
    const body = Buffer.from(JSON.stringify({ ref: "refs/heads/main", repository: { clone_url: "https://github.com/o/r.git", ssh_url: "git@github.com:o/r.git" } }));
    const verdict = readPush(token, token, { "x-github-event": "push", "x-hub-signature-256": `sha256=${sign(body)}` }, body);
    expect(verdict).toEqual({ ok: true, event: { sender: "github", ref: "refs/heads/main", urls: ["https://github.com/o/r.git", "git@github.com:o/r.git"] } });
  });

  it("refuses a GitHub push whose signature does not match", () => {
    const body = Buffer.from("{}");
    const verdict = readPush(token, token, { "x-github-event": "push", "x-hub-signature-256": "sha256=00" }, body);
    expect(verdict).toMatchObject({ ok: false, status: 401 });
  });

  it("refuses an unknown path token", () => {
    expect(readPush("wrong", token, {}, Buffer.alloc(0))).toMatchObject({ ok: false, status: 404 });
  });

  it("checks GitLab's token header", () => {
    const body = Buffer.from(JSON.stringify({ project: { git_http_url: "https://gitlab.com/g/r.git" } }));
    expect(readPush(token, token, { "x-gitlab-event": "Push Hook", "x-gitlab-token": token }, body)).toMatchObject({ ok: true, event: { urls: ["https://gitlab.com/g/r.git"] } });
    expect(readPush(token, token, { "x-gitlab-event": "Push Hook", "x-gitlab-token": "nope" }, body)).toMatchObject({ ok: false, status: 401 });
  });

  it("accepts a signed generic hook without a URL as 'every repository'", () => {
    const body = Buffer.alloc(0);
    expect(readPush(token, token, { "x-signature": `sha256=${sign(body)}` }, body)).toEqual({ ok: true, event: { sender: "generic", urls: [] } });
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
