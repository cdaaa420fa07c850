import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { pollDefaultBranch } from "../../src/source/index.js";
import { startGitHttpServer, type GitHttpServer } from "../support/git-http-server.js";
import { TestRepo } from "../support/git-repo.js";

describe("the default branch a fleet follows: main, else master, over smart HTTP", () => {
  const repos: TestRepo[] = [];
  const servers: GitHttpServer[] = [];
  const cacheDir = mkdtempSync(join(tmpdir(), "flotilla-default-branch-"));
  afterAll(async () => {
    for (const s of servers) await s.stop();
    for (const r of repos) r.remove();
    rmSync(cacheDir, { recursive: true, force: true });
  });
  const served = async (branches: string[]) => {
    const repo = TestRepo.create();
    repos.push(repo);
    repo.git("checkout", "-q", "-b", branches[0]!);
    repo.commit("first", { "README.md": `${branches[0]}\n` });
    for (const b of branches.slice(1)) {
      repo.git("checkout", "-q", "-b", b);
      repo.commit(b, { "README.md": `${b}\n` });
    }
    repo.publish();
    const server = await startGitHttpServer(repo.root);
    servers.push(server);
    return `${server.url}/repo.git`;
  };

  it("takes main when the repository has both", async () => {
    const { branch, artifact } = await pollDefaultBranch({ url: await served(["master", "main"]), cacheDir });
    expect(branch).toBe("main");
    expect(artifact.tree.readText("README.md")).toBe("main\n");
  });

  it("takes master when there is no main", async () => {
    const { branch, artifact } = await pollDefaultBranch({ url: await served(["master"]), cacheDir });
    expect(branch).toBe("master");
    expect(artifact.tree.readText("README.md")).toBe("master\n");
  });

  it("with neither, fails with main's error", async () => {
    await expect(pollDefaultBranch({ url: await served(["trunk"]), cacheDir })).rejects.toThrow(/main/);
  });
});
