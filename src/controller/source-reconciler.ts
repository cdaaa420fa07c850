import type { Logger } from "pino";
import { parseDuration } from "../core/duration.js";
import { describeError } from "../core/errors.js";
import type { GitRepository } from "../core/flux.js";
import { objectKey } from "../core/object.js";
import { Reason, readyCondition, setReady } from "../status/conditions.js";
import type { Metrics } from "../status/metrics.js";
import { withJitter, type Clock } from "./clock.js";
import type { ManagementCluster, SecretCredentials, SourceArtifact, TrackedSource } from "./ports.js";

export interface SourceContext {
  mgmt: ManagementCluster;
  /** The tracker of a GitRepository, made once per (url, ref, credentials) and kept across polls. */
  tracker(g: GitRepository, credentials: SecretCredentials | undefined): TrackedSource;
  /** Why the controller will not read this GitRepository's URL (see source/url-policy.ts), if it will not. */
  urlRefusal?(g: GitRepository): string | undefined;
  /** Stores the latest good artifact; the last one stays when a poll fails. */
  store(key: string, artifact: SourceArtifact): void;
  stored(key: string): SourceArtifact | undefined;
  /** Called when a GitRepository has a new revision, to requeue its Kustomizations at once. */
  onNewRevision(key: string, revision: string): void;
  clock: Clock;
  logger: Logger;
  metrics?: Metrics;
}

/**
 * Reconciles one GitRepository as Flux's source-controller does: poll the remote (cheap when
 * nothing changed), keep the artifact of the resolved revision, and write `Ready` with
 * `stored artifact for revision '<revision>'`. A failing remote keeps the last good artifact.
 */
export async function reconcileGitRepository(
  g: GitRepository,
  ctx: SourceContext,
): Promise<{ requeueAfterMs?: number }> {
  const key = objectKey(g);
  const started = ctx.clock.now();
  const where = { object: `GitRepository/${key}` };
  const log = ctx.logger.child({ source: key });
  let interval: number;
  try {
    interval = parseDuration(g.spec.interval ?? "1m", { ...where, field: "spec.interval" });
  } catch (error) {
    await setStatus(g, ctx, "False", Reason.GitOperationFailed, describeError(error));
    return {};
  }
  if (g.spec.suspend) return {};
  const refusal = ctx.urlRefusal?.(g);
  if (refusal) {
    // Not retried: only a new spec (a new generation, which the watch requeues) can change the answer.
    log.warn({ reason: Reason.URLInvalid }, refusal);
    await setStatus(g, ctx, "False", Reason.URLInvalid, refusal);
    await ctx.mgmt.event(g, "Warning", Reason.URLInvalid, refusal).catch(() => undefined);
    return {};
  }
  try {
    let credentials: SecretCredentials | undefined;
    if (g.spec.secretRef) {
      credentials = await ctx.mgmt.getCredentials(g.metadata.namespace, g.spec.secretRef.name);
      if (!credentials)
        throw new Error(`Secret '${g.metadata.namespace}/${g.spec.secretRef.name}' not found (spec.secretRef)`);
    }
    const { artifact, changed } = await ctx.tracker(g, credentials).poll();
    const previous = ctx.stored(key);
    ctx.store(key, artifact);
    const message = `stored artifact for revision '${artifact.revision}'`;
    const artifactStatus =
      previous?.revision === artifact.revision && g.status?.artifact?.revision === artifact.revision
        ? g.status.artifact
        : {
            revision: artifact.revision,
            lastUpdateTime: new Date(ctx.clock.now()).toISOString().replace(/\.\d{3}Z$/, "Z"),
          };
    await setStatus(g, ctx, "True", Reason.Succeeded, message, artifactStatus);
    if (changed || previous?.revision !== artifact.revision) {
      log.info({ revision: artifact.revision }, "new revision");
      ctx.onNewRevision(key, artifact.revision);
    }
    ctx.metrics?.reconcileDuration.observe(
      { kind: "GitRepository", name: g.metadata.name, namespace: g.metadata.namespace },
      (ctx.clock.now() - started) / 1000,
    );
    return { requeueAfterMs: withJitter(interval) };
  } catch (error) {
    const message = describeError(error);
    log.warn({ err: message }, "source failed; keeping the last artifact");
    await setStatus(g, ctx, "False", Reason.GitOperationFailed, message);
    await ctx.mgmt.event(g, "Warning", Reason.GitOperationFailed, message).catch(() => undefined);
    return { requeueAfterMs: withJitter(interval) };
  }
}

async function setStatus(
  g: GitRepository,
  ctx: SourceContext,
  ready: "True" | "False",
  reason: string,
  message: string,
  artifact?: NonNullable<GitRepository["status"]>["artifact"],
): Promise<void> {
  const generation = typeof g.metadata.generation === "number" ? g.metadata.generation : undefined;
  const status: NonNullable<GitRepository["status"]> = {
    ...g.status,
    ...(artifact ? { artifact } : {}),
    conditions: setReady(g.status?.conditions, ready, reason, message, generation, new Date(ctx.clock.now())),
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
  ctx.metrics?.recordReady("GitRepository", g.metadata.namespace, g.metadata.name, ready);
  const before = readyCondition(g.status?.conditions);
  if (before?.message === message && before.status === ready && JSON.stringify(status) === JSON.stringify(g.status))
    return;
  await ctx.mgmt.patchGitRepositoryStatus(g, status);
  g.status = status;
}
