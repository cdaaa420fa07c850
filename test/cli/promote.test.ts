import { execFileSync } from "node:child_process";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { run } from "../../src/cli/promote.js";
import { startGitHttpServer, type GitHttpServer } from "../support/git-http-server.js";
import { TestRepo } from "../support/git-repo.js";

const REFERENCE = join(import.meta.dirname, "..", "plan", "fixtures", "reference");
const GITREPOS = "providers/aws/v1/mgmt/namespaced/flux-system/gitrepositories.yaml";

async function capture(fn: () => Promise<number>): Promise<string> {
  let out = "";
  const spy = vi
    .spyOn(process.stdout, "write")
    .mockImplementation((c: string | Uint8Array) => ((out += String(c)), true));
  try {
    await fn();
    return out;
  } finally {
    spy.mockRestore();
  }
}

describe("flotilla promote in a Flux-compatible repository", () => {
  let repo: TestRepo;
  let server: GitHttpServer;
  let locked: GitHttpServer;
  beforeAll(async () => {
    repo = TestRepo.create();
    cpSync(REFERENCE, repo.work, { recursive: true });
    const manifest = readFileSync(join(repo.work, GITREPOS), "utf8").replace(
      "tag: v0.0.3",
      "tag: v0.0.2 # prod runs this",
    );
    repo.commit("feat: platform (#1)", { [GITREPOS]: manifest });
    repo.git("tag", "v0.0.2");
    repo.commit("feat(access-control): add admin role (#2)", {
      "features/access-control/non-namespaced/admin.yaml":
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: admin-2\n",
    });
    repo.git("tag", "v0.0.3");
    repo.publish();
    server = await startGitHttpServer(repo.root);
    locked = await startGitHttpServer(repo.root, { username: "ci", password: "push-secret" });
  });
  afterAll(async () => {
    await server.stop();
    await locked.stop();
    repo.remove();
  });

  it("creates promote/prod-v0.0.3 with one commit that moves the release ref, comments kept", async () => {
    const out = await capture(() => run(["v0.0.3", "--repo", repo.work]));
    expect(out).toContain("created branch promote/prod-v0.0.3");
    const file = repo.git("show", `promote/prod-v0.0.3:${GITREPOS}`);
    expect(file).toContain("tag: v0.0.3");
    expect(file).toContain("branch: main");
    expect(repo.git("log", "-1", "--format=%s", "promote/prod-v0.0.3")).toBe(
      "chore(release): promote v0.0.3 to aws prod",
    );
    expect(repo.git("log", "-1", "--format=%b", "promote/prod-v0.0.3")).toContain("add admin role");
    expect(repo.git("diff", "--stat", "main", "promote/prod-v0.0.3")).toMatch(
      /1 file changed, 1 insertion\(\+\), 1 deletion\(-\)/,
    );
    expect(repo.git("status", "--porcelain")).toBe("");
  });

  it("refuses a tag that does not exist, one that is not newer, and a dirty work tree — leaving no branch", async () => {
    await expect(run(["v9.9.9", "--repo", repo.work])).rejects.toThrow("tag 'v9.9.9' does not exist");
    await expect(run(["v0.0.2", "--repo", repo.work])).rejects.toThrow("v0.0.2 is not newer than v0.0.2");
    writeFileSync(join(repo.work, "README.md"), "dirty\n");
    await expect(run(["v0.0.3", "--repo", repo.work, "--env", "prod"])).rejects.toThrow("uncommitted changes");
    repo.git("checkout", "-q", "--", "README.md");
    expect(repo.git("branch", "--list", "promote/*")).toBe("promote/prod-v0.0.3");
  });

  it("pushes the branch over smart HTTP and prints the pull-request URL", async () => {
    repo.git("branch", "-D", "promote/prod-v0.0.3");
    repo.git("remote", "add", "origin", `${server.url}/repo.git`);
    const out = await capture(() => run(["v0.0.3", "--repo", repo.work, "--push"]));
    expect(out).toContain("created branch promote/prod-v0.0.3");
    expect(execFileSync("git", ["-C", repo.bare, "branch", "--list", "promote/*"], { encoding: "utf8" }).trim()).toBe(
      "promote/prod-v0.0.3",
    );
  });

  it("a rejected push (no credentials) fails with exit 2 semantics and leaves no local branch", async () => {
    repo.git("branch", "-D", "promote/prod-v0.0.3");
    repo.git("remote", "set-url", "origin", `${locked.url}/repo.git`);
    await expect(run(["v0.0.3", "--repo", repo.work, "--push", "--remote-branch", "promote-again"])).rejects.toThrow(
      /push of promote-again was rejected: HTTP 401/,
    );
    expect(repo.git("branch", "--list", "promote/*")).toBe("");
  });

  it("pushes with credentials from the environment, never printing them", async () => {
    process.env.FLOTILLA_GIT_USERNAME = "ci";
    process.env.FLOTILLA_GIT_PASSWORD = "push-secret";
    try {
      const out = await capture(() =>
        run(["v0.0.3", "--repo", repo.work, "--push", "--remote-branch", "promote-with-auth"]),
      );
      expect(out).not.toContain("push-secret");
      expect(
        execFileSync("git", ["-C", repo.bare, "branch", "--list", "promote-with-auth"], { encoding: "utf8" }).trim(),
      ).toBe("promote-with-auth");
    } finally {
      delete process.env.FLOTILLA_GIT_USERNAME;
      delete process.env.FLOTILLA_GIT_PASSWORD;
    }
  });
});

describe("flotilla promote in convention mode", () => {
  it("moves sources.release.tag in flotilla.yaml", async () => {
    const repo = TestRepo.create();
    try {
      cpSync(REFERENCE, repo.work, { recursive: true });
      execFileSync(
        "bash",
        [
          "-c",
          "rm providers/aws/v1/mgmt/namespaced/*/kustomizations.yaml providers/aws/v1/mgmt/namespaced/flux-system/gitrepositories.yaml",
        ],
        { cwd: repo.work },
      );
      repo.commit("feat: platform (#1)", {
        "flotilla.yaml": "# release promoted by PR\nsources:\n  release:\n    tag: v0.0.1\n",
      });
      repo.git("tag", "v0.0.1");
      repo.commit("fix(ingress-nginx): x (#2)", {
        "features/ingress-nginx/namespaced/extra.yaml":
          "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: ingress-nginx\n",
      });
      repo.git("tag", "v0.0.2");
      await capture(() => run(["v0.0.2", "--repo", repo.work]));
      expect(repo.git("show", "promote/prod-v0.0.2:flotilla.yaml")).toBe(
        "# release promoted by PR\nsources:\n  release:\n    tag: v0.0.2",
      );
    } finally {
      repo.remove();
    }
  });
});
