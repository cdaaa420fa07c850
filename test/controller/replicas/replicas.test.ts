import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterClient } from "../../../src/core/kube/index.js";
import { leaseName } from "../../../src/controller/replicas/leases.js";
import type { Kustomization } from "../../../src/core/flux.js";
import { LEASE_CLUSTER_ANNOTATION, LEASE_ROLE_LABEL } from "../../../src/core/leases.js";
import type { KubeObject } from "../../../src/core/object.js";
import { startHarness, type Harness } from "../../../src/provision/local/harness.js";
import { ensureBuiltCli, killAllCliProcesses, startCli, type CliProcess } from "../../support/cli-process.js";
import { startGitHttpServer, type GitHttpServer } from "../../support/git-http-server.js";
import { TestRepo } from "../../support/git-repo.js";
import { AUDIT_POLICY, replicaWrites, runsOf, tenuresOf, type AuditWrite } from "./audit.js";
import { installCrds } from "../../support/management-cluster.js";

/**
 * Issue 18, part 3, the proof: three `flotilla controller` processes share six workload clusters
 * (on two real apiservers, three clusters each, every cluster with its own namespace and
 * kubeconfig Secret) through Leases. One is SIGKILLed in the middle of a rollout and started again.
 * Every unit converges to the render; the clusters are spread evenly and the restarted replica gets
 * its share back; on SIGTERM every replica releases its Leases. That no two replicas wrote to one
 * cluster at the same time is read from the apiservers' audit logs (each replica's User-Agent names
 * it), not from the controllers' own logs: writes to each cluster, grouped by replica, form runs
 * that never overlap, and each lies within that replica's tenure of the cluster's Lease as the
 * management cluster's audit log records the Lease's writes.
 */

const LEASE_NS = "flotilla-system";
const LEASE_MS = 8_000;
const REPLICAS = ["replica-a", "replica-b", "replica-c"];
const CLUSTERS = ["c1", "c2", "c3", "c4", "c5", "c6"];
/** Odd clusters on apiserver `wa`, even ones on `wb`. */
const apiserverOf = (c: string) => (Number(c.slice(1)) % 2 === 1 ? "wa" : "wb");
const laneOf = (c: string) => `${c}/${c}-kubeconfig`;
const CONFIGMAPS = 40;
/** A replica's lines about Leases and placement (the last 30), for a failure's message. */
const replicaLog = (p: CliProcess) =>
  p
    .logLines()
    .filter((l) => l.component === "replicas" || /Lease|replica/.test(String(l.msg)))
    .slice(-30)
    .map((l) => JSON.stringify(l))
    .join("\n");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const files = (rev: number): Record<string, string> => {
  const out: Record<string, string> = {
    "base/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${cluster}-app\n",
  };
  for (let i = 0; i < CONFIGMAPS; i++)
    out[`app/cm-${i}.yaml`] =
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-${i}\n  namespace: \${cluster}-app\ndata:\n  rev: "${rev}"\n  cluster: \${cluster}\n  payload: "${"x".repeat(2000)}"\n`;
  return out;
};

const unit = (c: string, name: "base" | "app"): Kustomization =>
  ({
    apiVersion: "kustomize.toolkit.fluxcd.io/v1",
    kind: "Kustomization",
    metadata: { name, namespace: c },
    spec: {
      interval: "10m",
      path: `./${name}`,
      prune: true,
      sourceRef: { kind: "GitRepository", name: "repo", namespace: "flux-system" },
      kubeConfig: { secretRef: { name: `${c}-kubeconfig` } },
      postBuild: { substitute: { cluster: c } },
      ...(name === "app" ? { dependsOn: [{ name: "base" }] } : {}),
    },
  }) as unknown as Kustomization;

describe("active-active replicas on Leases: SIGKILL one mid-rollout, prove no overlapping writes from the audit logs", () => {
  let harness: Harness;
  let repo: TestRepo;
  let server: GitHttpServer;
  let tmp: string;
  let mgmt: ClusterClient;
  const workload = new Map<string, ClusterClient>();
  const procs = new Map<string, CliProcess>();

  const start = (id: string) => {
    const before = procs.get(id);
    if (before && process.env.FLOTILLA_REPLICAS_LOGS)
      writeFileSync(join(process.env.FLOTILLA_REPLICAS_LOGS, `${id}.killed.log`), before.stderr());
    const proc = startCli(
      [
        "controller",
        "--kubeconfig",
        join(tmp, "mgmt.kubeconfig"),
        "--lease-namespace",
        LEASE_NS,
        "--replica-id",
        id,
        "--lease-duration",
        `${LEASE_MS / 1000}s`,
        "--renew-deadline",
        "5s",
        "--retry-period",
        "1s",
        "--concurrent",
        "2",
        "--cache-dir",
        join(tmp, `cache-${id}`),
        "--listen",
        "127.0.0.1:0",
        "--allow-insecure-http",
      ],
      { env: { FLOTILLA_LOG_LEVEL: "info" } },
    );
    procs.set(id, proc);
    return proc;
  };

  const units = async () =>
    (await mgmt.request<{ items: Kustomization[] }>("GET", "/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations")).body
      .items;

  /** Cluster → holder of its Lease (clusters without a held Lease are absent). */
  const holders = async (): Promise<Map<string, string>> => {
    const res = await mgmt.request<{ items: KubeObject[] }>(
      "GET",
      `/apis/coordination.k8s.io/v1/namespaces/${LEASE_NS}/leases?labelSelector=${encodeURIComponent(`${LEASE_ROLE_LABEL}=cluster`)}`,
    );
    const out = new Map<string, string>();
    for (const l of res.body.items) {
      const c = CLUSTERS.find((x) => laneOf(x) === l.metadata.annotations?.[LEASE_CLUSTER_ANNOTATION]);
      const holder = (l.spec as { holderIdentity?: string }).holderIdentity;
      if (c && holder) out.set(c, holder);
    }
    return out;
  };

  /** The holder of a lane's cluster Lease. */
  const leaseHolder = async (lane: string) => {
    const res = await mgmt.request<{ items: KubeObject[] }>(
      "GET",
      `/apis/coordination.k8s.io/v1/namespaces/${LEASE_NS}/leases?labelSelector=${encodeURIComponent(`${LEASE_ROLE_LABEL}=cluster`)}`,
    );
    const l = res.body.items.find((x) => x.metadata.annotations?.[LEASE_CLUSTER_ANNOTATION] === lane);
    return (l?.spec as { holderIdentity?: string } | undefined)?.holderIdentity;
  };

  const countsOf = (h: Map<string, string>, replicas: string[]) =>
    replicas.map((r) => [...h.values()].filter((x) => x === r).length).sort((a, b) => a - b);

  const waitFor = async <T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      try {
        const v = await check();
        if (v !== undefined) return v;
      } catch (error) {
        last = error;
      }
      if (Date.now() > deadline)
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (${String(last)})` : ""}\n${[...procs]
            .map(([id, p]) => `--- ${id}: its replica log\n${replicaLog(p)}`)
            .join("\n")}`,
        );
      await sleep(200);
    }
  };

  /** Every unit Ready at the revision, and every cluster's ConfigMaps holding `rev`. */
  const converged = async (sha: string, rev: number) => {
    const revision = `main@sha1:${sha}`;
    const off: string[] = [];
    for (const k of await units()) {
      const ready = k.status?.conditions?.find((c) => c.type === "Ready");
      if (ready?.status !== "True" || k.status?.lastAppliedRevision !== revision)
        off.push(`${k.metadata.namespace}/${k.metadata.name}: ${ready?.status} ${ready?.message ?? ""}`);
    }
    for (const c of CLUSTERS) {
      const res = await workload
        .get(apiserverOf(c))!
        .request<{ items: KubeObject[] }>(
          "GET",
          `/api/v1/namespaces/${c}-app/configmaps?labelSelector=kustomize.toolkit.fluxcd.io%2Fname`,
        );
      const good = res.body.items.filter((o) => {
        const d = (o.data ?? {}) as Record<string, string>;
        return d.rev === String(rev) && d.cluster === c;
      }).length;
      if (good !== CONFIGMAPS || res.body.items.length !== CONFIGMAPS)
        off.push(`${c}: ${good}/${res.body.items.length} ConfigMaps at rev ${rev}`);
    }
    return off;
  };

  /** For waitFor: true once converged, else an error naming what is still off (shown if it times out). */
  const settled = async (sha: string, rev: number) => {
    const off = await converged(sha, rev);
    if (off.length > 0) throw new Error(`still off: ${off.join("; ")}`);
    return true;
  };

  beforeAll(async () => {
    ensureBuiltCli();
    tmp = mkdtempSync(join(tmpdir(), "flotilla-replicas-"));
    writeFileSync(join(tmp, "audit-policy.yaml"), AUDIT_POLICY);
    harness = await startHarness({
      profile: "apiserver",
      clusters: ["mgmt", "wa", "wb"],
      apiserverFlags: (name) => [
        `--audit-policy-file=${join(tmp, "audit-policy.yaml")}`,
        `--audit-log-path=${join(tmp, `audit-${name}.log`)}`,
        "--audit-log-format=json",
      ],
    });
    mgmt = ClusterClient.fromKubeconfig(harness.get("mgmt")!.kubeconfig);
    for (const w of ["wa", "wb"]) workload.set(w, ClusterClient.fromKubeconfig(harness.get(w)!.kubeconfig));
    writeFileSync(join(tmp, "mgmt.kubeconfig"), harness.get("mgmt")!.kubeconfig);
    await installCrds(mgmt);
    for (const ns of [LEASE_NS, "flux-system", ...CLUSTERS])
      await mgmt.request(
        "POST",
        "/api/v1/namespaces",
        { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } },
        { allow: [409] },
      );
    for (const c of CLUSTERS)
      await mgmt.request("POST", `/api/v1/namespaces/${c}/secrets`, {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: `${c}-kubeconfig`, namespace: c },
        type: "cluster.x-k8s.io/secret",
        stringData: { value: harness.get(apiserverOf(c))!.kubeconfig },
      });
    repo = TestRepo.create();
    server = await startGitHttpServer(repo.root);
  }, 180_000);

  afterAll(async () => {
    // FLOTILLA_REPLICAS_LOGS=DIR keeps each replica's log (the last process of each name) for a post-mortem.
    const keep = process.env.FLOTILLA_REPLICAS_LOGS;
    if (keep) for (const [id, p] of procs) writeFileSync(join(keep, `${id}.log`), p.stderr());
    await killAllCliProcesses();
    mgmt?.close();
    for (const c of workload.values()) c.close();
    await server?.stop();
    await harness?.stop();
    repo?.remove();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("fails over within a lease duration + 10 s, converges, gives the restarted replica its share back, and never writes to a cluster from two replicas at once", async () => {
    let sha = repo.commit("feat: rev 1", files(1));
    repo.publish();
    for (const id of REPLICAS) start(id);
    // All three have joined (membership Leases) before there is anything to place.
    await waitFor("three membership Leases", 30_000, async () => {
      const res = await mgmt.request<{ items: unknown[] }>(
        "GET",
        `/apis/coordination.k8s.io/v1/namespaces/${LEASE_NS}/leases?labelSelector=${encodeURIComponent(`${LEASE_ROLE_LABEL}=member`)}`,
      );
      return res.body.items.length === 3 ? true : undefined;
    });
    await mgmt.request("POST", "/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories", {
      apiVersion: "source.toolkit.fluxcd.io/v1",
      kind: "GitRepository",
      metadata: { name: "repo", namespace: "flux-system" },
      spec: { url: `${server.url}/repo.git`, ref: { branch: "main" }, interval: "2s" },
    });
    for (const c of CLUSTERS)
      for (const name of ["base", "app"] as const)
        await mgmt.request(
          "POST",
          `/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/${c}/kustomizations`,
          unit(c, name),
        );

    const t0 = Date.now();
    await waitFor("rev 1 everywhere", 90_000, () => settled(sha, 1));
    const firstRollout = Date.now() - t0;
    // Spread: six equal clusters over three replicas, within 1.25× of the mean (2): two each.
    const initial = await holders();
    expect(initial.size).toBe(6);
    expect(countsOf(initial, REPLICAS)).toEqual([2, 2, 2]);

    // A rollout of rev 2; one replica is SIGKILLed while it is under way.
    sha = repo.commit("feat: rev 2", files(2));
    repo.push();
    const revision2 = `main@sha1:${sha}`;
    const midway = await waitFor("the rollout of rev 2 to start", 60_000, async () => {
      const apps = (await units()).filter((k) => k.metadata.name === "app");
      const done = apps.filter((k) => k.status?.lastAppliedRevision === revision2).map((k) => k.metadata.namespace);
      return done.length > 0 ? done : undefined;
    });
    const h = await holders();
    const pending = CLUSTERS.filter((c) => !midway.includes(c));
    const victim = h.get(pending.find((c) => h.has(c)) ?? CLUSTERS[0]!)!;
    const victimClusters = CLUSTERS.filter((c) => h.get(c) === victim);
    const killedAt = Date.now();
    await procs.get(victim)!.kill("SIGKILL");
    const survivors = REPLICAS.filter((r) => r !== victim);
    process.stdout.write(
      `replicas: killed ${victim} (holding ${victimClusters.join(", ")}) when ${midway.length}/6 app units had applied rev 2\n`,
    );

    // Failover: its clusters move to the survivors within one lease duration plus 10 s.
    await waitFor("the victim's clusters on survivors", 60_000, async () => {
      const now = await holders();
      return victimClusters.every((c) => survivors.includes(now.get(c) ?? "")) ? true : undefined;
    });
    const failoverMs = Date.now() - killedAt;
    expect(failoverMs).toBeLessThanOrEqual(LEASE_MS + 10_000);
    await waitFor("rev 2 everywhere", 90_000, () => settled(sha, 2));
    const convergedAfterKill = Date.now() - killedAt;
    const afterFailover = await holders();
    expect(countsOf(afterFailover, survivors)).toEqual([3, 3]);

    // The victim comes back and gets its share back, gradually.
    const restartedAt = Date.now();
    start(victim);
    await waitFor("two clusters each again", 90_000, async () => {
      const now = await holders();
      return now.size === 6 && countsOf(now, REPLICAS).join() === "2,2,2" ? true : undefined;
    });
    const rebalanceMs = Date.now() - restartedAt;
    expect((await holders()).size).toBe(6);
    // /metrics of each replica: the clusters it holds, the members it sees, its queue, its moves.
    const metricsOf = async (id: string) => {
      const url = String(
        (
          await procs
            .get(id)!
            .waitForLog((l) => typeof l.url === "string" && String(l.msg).startsWith("serving"), 30_000)
        ).url,
      );
      return (await fetch(`${url}/metrics`)).text();
    };
    const gauge = (text: string, name: string, labels: string) =>
      Number(new RegExp(`^${name}\\{${labels.replace(/[{}]/g, "")}\\} (\\S+)$`, "m").exec(text)?.[1] ?? NaN);
    const mgmtHolder = await leaseHolder("mgmt");
    await waitFor("every replica's /metrics to show its 2 clusters and 3 members", 20_000, async () => {
      for (const id of REPLICAS) {
        const text = await metricsOf(id);
        const seen = text.split("\n").filter((l) => l.startsWith("flotilla_replica_"));
        // Its 2 workload clusters, and the management cluster's lane (its units, GitRepository statuses) for one of them.
        if (gauge(text, "flotilla_replica_clusters", `replica="${id}"`) !== 2 + (mgmtHolder === id ? 1 : 0))
          throw new Error(`${id}: ${seen.join("; ")}`);
        if (gauge(text, "flotilla_replica_members", `replica="${id}"`) !== 3)
          throw new Error(`${id}: ${seen.join("; ")}`);
        if (!Number.isFinite(gauge(text, "flotilla_replica_queue_depth", `replica="${id}"`)))
          throw new Error(`${id}: ${seen.join("; ")}`);
      }
      return true;
    });
    // The restarted replica acquired its 2; the survivors gave 2 away between them.
    expect(
      gauge(await metricsOf(victim), "flotilla_replica_moves", `replica="${victim}",direction="acquired"`),
    ).toBeGreaterThanOrEqual(2);
    const given = await Promise.all(
      survivors.map(async (id) =>
        gauge(await metricsOf(id), "flotilla_replica_moves", `replica="${id}",direction="released"`),
      ),
    );
    expect(given.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(2);

    // And works: a third revision reaches every cluster.
    sha = repo.commit("feat: rev 3", files(3));
    repo.push();
    await waitFor("rev 3 everywhere", 90_000, () => settled(sha, 3));
    const final = await holders();

    // Shutdown: SIGTERM; each replica finishes and releases its Leases.
    await Promise.all([...procs.values()].map((p) => p.kill("SIGTERM")));
    for (const [id, p] of procs) expect((await p.exited).code, `${id} exit`).toBe(0);
    expect([...(await holders())]).toEqual([]);

    // ---- The audit logs. ----
    await sleep(500);
    const leaseWrites = replicaWrites(join(tmp, "audit-mgmt.log")).filter(
      (w) => w.resource === "leases" && w.namespace === LEASE_NS,
    );
    const workloadWrites = [...replicaWrites(join(tmp, "audit-wa.log")), ...replicaWrites(join(tmp, "audit-wb.log"))];
    const mgmtUnitWrites = replicaWrites(join(tmp, "audit-mgmt.log")).filter((w) => CLUSTERS.includes(w.namespace));
    const clusterOf = (w: AuditWrite) =>
      CLUSTERS.find((c) => w.namespace === `${c}-app` || (w.resource === "namespaces" && w.name === `${c}-app`));
    const problems: string[] = [];
    const lines: string[] = [];
    for (const c of CLUSTERS) {
      const name = leaseName("flotilla-cluster-default", laneOf(c));
      const tenures = tenuresOf(
        leaseWrites.filter((w) => w.name === name),
        LEASE_MS,
      );
      const writes = workloadWrites.filter((w) => clusterOf(w) === c);
      if (writes.length === 0) problems.push(`${c}: no writes in its apiserver's audit log`);
      // The Lease's tenures never overlap.
      for (let i = 1; i < tenures.length; i++)
        if (tenures[i]!.from < tenures[i - 1]!.to)
          problems.push(
            `${c}: ${tenures[i]!.replica} took the Lease at ${tenures[i]!.from} before ${tenures[i - 1]!.replica}'s ended (${tenures[i - 1]!.to})`,
          );
      // Every write to the cluster, and to its units' status on the management cluster, was made under its writer's tenure.
      for (const w of [...writes, ...mgmtUnitWrites.filter((x) => x.namespace === c)]) {
        if (!tenures.some((t) => t.replica === w.replica && t.from <= w.received && w.received <= t.to))
          problems.push(
            `${c}: ${w.replica} ${w.verb} ${w.resource}/${w.name} at ${new Date(w.received).toISOString()} outside its tenure of the Lease`,
          );
      }
      // Writes grouped by replica: runs that do not overlap.
      const runs = runsOf(writes);
      for (let i = 1; i < runs.length; i++)
        if (runs[i]!.from < runs[i - 1]!.to)
          problems.push(
            `${c}: ${runs[i]!.replica} wrote at ${runs[i]!.from} while ${runs[i - 1]!.replica}'s write ran until ${runs[i - 1]!.to}`,
          );
      lines.push(
        `${c}: ${tenures.map((t) => `${t.replica}${t.released ? " (released)" : " (expired)"}`).join(" → ")}; writes ${runs
          .map((r) => `${r.replica}×${r.writes}`)
          .join(" → ")}`,
      );
    }
    const victimWrites = workloadWrites.filter((w) => w.replica === victim);
    process.stdout.write(
      `replicas: first rollout ${firstRollout} ms; failover ${failoverMs} ms after the kill (bound ${LEASE_MS + 10_000}); rev 2 everywhere ${convergedAfterKill} ms after the kill; restarted replica back to 2 clusters in ${rebalanceMs} ms\n` +
        `replicas: owners at the end: ${CLUSTERS.map((c) => `${c}=${final.get(c)}`).join(" ")}\n` +
        `replicas: audit: ${workloadWrites.length} writes to workload clusters, ${leaseWrites.length} Lease writes, ${mgmtUnitWrites.length} unit status/event writes\n` +
        lines.map((l) => `replicas:   ${l}\n`).join(""),
    );
    expect(problems).toEqual([]);
    // The restarted replica wrote again after it came back (its share is real work, not a Lease).
    expect(victimWrites.some((w) => w.received > restartedAt)).toBe(true);
    expect(victimWrites.some((w) => w.received < killedAt)).toBe(true);
  }, 300_000);
});
