import { describe, expect, it } from "vitest";
import { urlRefusal } from "../../src/source/url-policy.js";

describe("urlRefusal: the GitRepository URLs the controller reads", () => {
  it("accepts https://, ssh:// and scp-like URLs", () => {
    for (const url of [
      "https://github.com/org/repo",
      "ssh://git@github.com/org/repo",
      "git@github.com:org/repo.git",
      "github.com:org/repo",
      "ssh://git@[::1]:2222/srv/repo",
    ])
      expect(urlRefusal(url), url).toBeUndefined();
  });

  it("refuses file:// URLs and absolute, relative and home paths: they read the controller's disk, the git cache included", () => {
    for (const url of [
      "file:///root/.cache/flotilla/git/0123456789abcdef",
      "FILE:///srv/repo",
      "/srv/repo",
      "./repo",
      "../tenant-b",
      "repo",
      "~/repo",
    ]) {
      expect(urlRefusal(url, { allowInsecureHttp: true }), url).toMatch(/path on the controller's disk.*\(spec\.url\)/);
    }
  });

  it("refuses http:// unless allowed, and says which flag allows it", () => {
    expect(urlRefusal("http://git.internal/org/repo")).toMatch(/plain http, refused without --allow-insecure-http/);
    expect(urlRefusal("http://git.internal/org/repo", { allowInsecureHttp: true })).toBeUndefined();
  });

  it("refuses other schemes and URLs without a host, without echoing credentials", () => {
    expect(urlRefusal("ftp://host/repo")).toMatch(/not a git URL/);
    expect(urlRefusal("https://")).toMatch(/has no host/);
    const refused = urlRefusal("http://user:s3cret@host/repo") ?? "";
    expect(refused).not.toContain("s3cret");
  });
});
