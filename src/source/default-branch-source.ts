import type { Logger } from "pino";
import { GitSource, type Artifact, type SourceSpec } from "./git-source.js";

/**
 * The repository's artifact on its default branch as a fleet follows it: `main`, else `master`
 * (Flux's default when a GitRepository names no ref). Fails with `main`'s error when neither exists.
 */
export async function pollDefaultBranch(
  spec: Omit<SourceSpec, "ref">,
  deps: { logger?: Logger } = {},
): Promise<{ branch: string; artifact: Artifact }> {
  const poll = async (branch: string) => ({
    branch,
    artifact: (await new GitSource({ ...spec, ref: { branch } }, deps).poll()).artifact,
  });
  try {
    return await poll("main");
  } catch (error) {
    const master = await poll("master").catch(() => undefined);
    if (!master) throw error;
    return master;
  }
}
