import { execFileSync } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterClient } from "../../src/core/kube/index.js";
import { DiskTree } from "../../src/core/file-tree.js";
import { LABEL_OWNER_NAME, LABEL_OWNER_NAMESPACE, type Kustomization } from "../../src/core/flux.js";
import { deepEqual, isPlainObject, objectId, objectRef, versionOf, type KubeObject } from "../../src/core/object.js";
import { cleanPath, discoverSources, planFleet } from "../../src/plan/index.js";
import { startHarness, type Harness } from "../../src/provision/local/harness.js";
import { fluxBuildSpecOf, renderFlux } from "../../src/render/index.js";
import { ensureBuiltCli, killAllCliProcesses, startCli, type CliProcess } from "../support/cli-process.js";
import { startGitHttpServer, type GitHttpServer } from "../support/git-http-server.js";
import { TestRepo } from "../support/git-repo.js";
import { installCrds } from "../support/management-cluster.js";

/**
 * Issue 8: the controller, as a real process, is SIGKILLed at random moments while it rolls out a
 * small fleet; after each restart (same --cache-dir) the fleet converges to the render of HEAD,
 * with nothing lost, nothing left behind and nothing it does not own touched. Each round pushes a
 * commit (webhook), kills the controller at a random moment of the first 3 s or within 500 ms of it
 * seeing the revision, sometimes commits again while it is down (removing what it was applying) and
 * sometimes kills it again while it catches up. Each round's line says how far the rollout had got.
 *
 * Knobs: FLOTILLA_CRASH_SEED (printed on every run): unset, the fixed seed below, so that every CI
 * run tests the same kills; a number replays that seed; `random` draws a new one.
 * FLOTILLA_CRASH_ROUNDS (default 20).
 */

const CI_SEED = 1_733_461_207;
const SEED = crashSeed(process.env.FLOTILLA_CRASH_SEED);

function crashSeed(value: string | undefined): number {
  if (value === undefined || value === "") return CI_SEED;
  if (value === "random") return Date.now() % 2 ** 31;
  const seed = Number(value);
  if (!Number.isInteger(seed) || seed < 0)
    throw new Error(`FLOTILLA_CRASH_SEED must be a non-negative integer or 'random', not '${value}'`);
  return seed;
}
const ROUNDS = Number(process.env.FLOTILLA_CRASH_ROUNDS ?? 20);
const MAX_RUN_MS = 3_000;
const CONVERGE_MS = 60_000;

/** mulberry32: a small seeded PRNG, so a failing run can be replayed with its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------
// The fleet: a convention-mode repository whose content the rounds change at random.
// ---------------------------------------------------------------------------------------------

const P = "providers/local/v1";
const DEV_COMMON = `${P}/clusters/dev/common`;
const STAGE_COMMON = `${P}/clusters/stage/common`;
const W1 = `${P}/clusters/dev/w1`;
const W2 = `${P}/clusters/stage/w2`;
/** Folders that always exist (or may come back) and hold ConfigMaps. */
const STATIC_CM_FOLDERS = [
  DEV_COMMON,
  STAGE_COMMON,
  W1,
  W2,
  "features/monitoring",
  "tenants/local/common/team-a",
  "tenants/local/dev/team-a",
  "tenants/local/stage/team-a",
];
const WIDGET_FOLDERS = [DEV_COMMON, STAGE_COMMON, W1, W2];
/** Moves keep an object on the same cluster and change the unit that owns it. */
const MOVES: Array<[string, string]> = [
  [DEV_COMMON, W1],
  [STAGE_COMMON, W2],
];

const cluster = (name: string, ns: string) => `apiVersion: cluster.x-k8s.io/v1beta1
kind: Cluster
metadata: {name: ${name}, namespace: ${ns}}
spec:
  infrastructureRef: {apiVersion: infrastructure.cluster.x-k8s.io/v1beta1, kind: LocalCluster, name: ${name}}
`;
const namespace = (name: string) => `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${name}}\n`;
const configMap = (name: string, ns: string, data: Record<string, string>) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${name}, namespace: ${ns}}\ndata:\n${Object.entries(data)
    .map(([k, v]) => `  ${k}: "${v}"\n`)
    .join("")}`;
const widget = (name: string, size: number) =>
  `apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: ${name}, namespace: default}\nspec: {size: ${size}}\n`;
const WIDGET_CRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`;

/** The namespace a folder's ConfigMaps live in. */
function namespaceOf(folder: string): string {
  const tenant = /^tenants\/local\/[^/]+\/([^/]+)$/.exec(folder);
  if (tenant) return tenant[1]!;
  if (folder === "features/monitoring") return "monitoring";
  return "default";
}

type Changes = Record<string, string | null>;

/** The repository's files as the test changes them, with the few rules that keep the fleet valid. */
class Fleet {
  readonly files = new Map<string, string>();
  private n = 0;
  private readonly protectedFiles = new Set<string>();

  constructor(private readonly rnd: () => number) {
    const keep = (path: string, content: string) => {
      this.files.set(path, content);
      this.protectedFiles.add(path);
    };
    keep(`${P}/mgmt/namespaced/w1/cluster.yaml`, cluster("w1", "w1"));
    keep(`${P}/mgmt/namespaced/w2/cluster.yaml`, cluster("w2", "w2"));
    // A cluster exists while its folder does: these keep both folders.
    keep(`${W1}/cluster-info.yaml`, configMap("cluster-info", "kube-public", { cluster: "w1" }));
    keep(`${W2}/cluster-info.yaml`, configMap("cluster-info", "kube-public", { cluster: "w2" }));
    keep("features/widgets/crd.yaml", WIDGET_CRD);
    keep("features/monitoring/namespace.yaml", namespace("monitoring"));
    // team-a holds the hand-made ConfigMap, so its namespace stays.
    keep("tenants/local/common/team-a/namespace.yaml", namespace("team-a"));
    for (const folder of STATIC_CM_FOLDERS) for (let i = 0; i < 2; i++) this.addConfigMap(folder);
    for (const folder of WIDGET_FOLDERS) this.addWidget(folder);
    this.addFeature();
    this.addTenant();
  }

  private pick<T>(items: readonly T[]): T | undefined {
    return items.length === 0 ? undefined : items[Math.floor(this.rnd() * items.length)];
  }

  private data(): Record<string, string> {
    const out: Record<string, string> = {};
    const keys = 1 + Math.floor(this.rnd() * 3);
    for (let i = 0; i < keys; i++) out[`k${Math.floor(this.rnd() * 5)}`] = `v${Math.floor(this.rnd() * 1000)}`;
    return out;
  }

  private configMapFiles(removable: boolean): string[] {
    return [...this.files.keys()].filter(
      (p) => /\/cm-\d+\.yaml$|cluster-info\.yaml$/.test(p) && (!removable || !this.protectedFiles.has(p)),
    );
  }

  private transientFeatures(): string[] {
    return [
      ...new Set(
        [...this.files.keys()].map((p) => /^features\/(extra-\d+)\//.exec(p)?.[1]).filter((f): f is string => !!f),
      ),
    ];
  }

  private transientTenants(): string[] {
    return [
      ...new Set(
        [...this.files.keys()]
          .map((p) => /^tenants\/local\/common\/(t-\d+)\//.exec(p)?.[1])
          .filter((t): t is string => !!t),
      ),
    ];
  }

  private cmFolders(): string[] {
    const tenants = this.transientTenants().flatMap((t) => [
      `tenants/local/common/${t}`,
      `tenants/local/dev/${t}`,
      `tenants/local/stage/${t}`,
    ]);
    return [...STATIC_CM_FOLDERS, ...this.transientFeatures().map((f) => `features/${f}`), ...tenants];
  }

  addConfigMap(folder: string, changes: Changes = {}): Changes {
    const name = `cm-${++this.n}`;
    const path = `${folder}/${name}.yaml`;
    const content = configMap(name, namespaceOf(folder), this.data());
    this.files.set(path, content);
    changes[path] = content;
    return changes;
  }

  addWidget(folder: string, changes: Changes = {}): Changes {
    const name = `widget-${++this.n}`;
    const path = `${folder}/${name}.yaml`;
    const content = widget(name, 1 + Math.floor(this.rnd() * 9));
    this.files.set(path, content);
    changes[path] = content;
    return changes;
  }

  addFeature(changes: Changes = {}): Changes {
    const folder = `features/extra-${++this.n}`;
    for (let i = 0, count = 1 + Math.floor(this.rnd() * 2); i < count; i++) this.addConfigMap(folder, changes);
    return changes;
  }

  addTenant(changes: Changes = {}): Changes {
    const t = `t-${++this.n}`;
    const ns = `tenants/local/common/${t}/namespace.yaml`;
    this.files.set(ns, namespace(t));
    changes[ns] = namespace(t);
    const r = this.rnd();
    if (r < 0.7) this.addConfigMap(`tenants/local/dev/${t}`, changes);
    if (r > 0.3) this.addConfigMap(`tenants/local/stage/${t}`, changes);
    return changes;
  }

  remove(path: string, changes: Changes): void {
    if (this.protectedFiles.has(path) || !this.files.has(path)) return;
    this.files.delete(path);
    changes[path] = null;
  }

  private removeUnder(prefix: string, changes: Changes): void {
    for (const p of [...this.files.keys()]) if (p.startsWith(prefix)) this.remove(p, changes);
  }

  /** One random change; returns a few words for the commit message. */
  mutate(changes: Changes): string {
    const r = this.rnd();
    if (r < 0.2) {
      this.addConfigMap(this.pick(this.cmFolders())!, changes);
      return "add a ConfigMap";
    }
    if (r < 0.4) {
      const path = this.pick(this.configMapFiles(false))!;
      const meta = /metadata: \{name: ([^,]+), namespace: ([^}]+)\}/.exec(this.files.get(path)!)!;
      const next = configMap(meta[1]!, meta[2]!, this.data());
      this.files.set(path, next);
      changes[path] = next;
      return "change a ConfigMap";
    }
    if (r < 0.55) {
      const path = this.pick(this.configMapFiles(true));
      if (path) this.remove(path, changes);
      return "remove a ConfigMap";
    }
    if (r < 0.65) {
      const widgets = [...this.files.keys()].filter((p) => /widget-\d+\.yaml$/.test(p));
      const path = this.pick(widgets);
      const w = this.rnd();
      if (!path || w < 0.35) this.addWidget(this.pick(WIDGET_FOLDERS)!, changes);
      else if (w < 0.7) {
        const name = /widget-\d+/.exec(path)![0];
        const next = widget(name, 10 + Math.floor(this.rnd() * 90));
        this.files.set(path, next);
        changes[path] = next;
      } else this.remove(path, changes);
      return "widgets";
    }
    if (r < 0.75) {
      const features = this.transientFeatures();
      if (features.length === 0 || this.rnd() < 0.5) {
        this.addFeature(changes);
        return "add a feature";
      }
      this.removeUnder(`features/${this.pick(features)!}/`, changes);
      return "remove a feature";
    }
    if (r < 0.85) {
      const tenants = this.transientTenants();
      if (tenants.length === 0 || this.rnd() < 0.5) {
        this.addTenant(changes);
        return "add a tenant";
      }
      const t = this.pick(tenants)!;
      for (const env of ["common", "dev", "stage"]) this.removeUnder(`tenants/local/${env}/${t}/`, changes);
      return "remove a tenant";
    }
    if (r < 0.95) {
      const [a, b] = this.pick(MOVES)!;
      const [from, to] = this.rnd() < 0.5 ? [a, b] : [b, a];
      const path = this.pick(this.configMapFiles(true).filter((p) => p.startsWith(`${from}/`)));
      if (!path) return "move nothing";
      const content = this.files.get(path)!;
      this.remove(path, changes);
      const target = `${to}/${path.slice(from.length + 1)}`;
      this.files.set(target, content);
      changes[target] = content;
      return "move a ConfigMap to another unit";
    }
    // Every stage tenant's files at once: the unit tenants-stage leaves (or comes back).
    if ([...this.files.keys()].some((p) => p.startsWith("tenants/local/stage/"))) {
      this.removeUnder("tenants/local/stage/", changes);
      return "remove tenants-stage";
    }
    this.addConfigMap("tenants/local/stage/team-a", changes);
    return "bring tenants-stage back";
  }
}

// ---------------------------------------------------------------------------------------------
// What the clusters should hold: the plan and render of HEAD.
// ---------------------------------------------------------------------------------------------

interface KindInfo {
  group: string;
  version: string;
  plural: string;
  namespaced: boolean;
}
const KINDS: Record<string, KindInfo> = {
  ConfigMap: { group: "", version: "v1", plural: "configmaps", namespaced: true },
  Namespace: { group: "", version: "v1", plural: "namespaces", namespaced: false },
  CustomResourceDefinition: {
    group: "apiextensions.k8s.io",
    version: "v1",
    plural: "customresourcedefinitions",
    namespaced: false,
  },
  Widget: { group: "example.com", version: "v1", plural: "widgets", namespaced: true },
  Cluster: { group: "cluster.x-k8s.io", version: "v1beta1", plural: "clusters", namespaced: true },
};
/** The kinds whose labelled objects are listed on each cluster to find leftovers. */
const LISTED: Record<string, string[]> = {
  mgmt: ["Cluster"],
  w1: ["ConfigMap", "Namespace", "CustomResourceDefinition", "Widget"],
  w2: ["ConfigMap", "Namespace", "CustomResourceDefinition", "Widget"],
};

function kindInfo(kind: string): KindInfo {
  const info = KINDS[kind];
  if (!info) throw new Error(`test bug: the fleet renders a ${kind}, which KINDS does not list`);
  return info;
}
const base = (k: KindInfo) => (k.group ? `/apis/${k.group}/${k.version}` : `/api/${k.version}`);
const objectPath = (kind: string, ns: string | undefined, name: string) => {
  const k = kindInfo(kind);
  return `${base(k)}${k.namespaced ? `/namespaces/${ns}` : ""}/${k.plural}/${name}`;
};

interface ExpectedUnit {
  unit: Kustomization;
  cluster: string;
  objects: KubeObject[];
}

/**
 * Plans HEAD as the controller's planner does and renders every unit. HEAD is exported into a
 * fresh folder: the work tree keeps the empty folders of deleted files, which git does not have.
 */
function expectedFleet(repo: TestRepo, into: string, repoUrl: string): ExpectedUnit[] {
  rmSync(into, { recursive: true, force: true });
  mkdirSync(into, { recursive: true });
  execFileSync("sh", ["-c", `git -C "${repo.work}" archive HEAD | tar -x -C "${into}"`]);
  const tree = new DiskTree(into);
  const sources = discoverSources(tree, { repoUrl, render: renderFlux });
  const plan = planFleet(sources, { main: tree }, { render: renderFlux });
  return plan.objects
    .filter((o): o is Kustomization => o.kind === "Kustomization")
    .map((unit) => ({
      unit,
      cluster: unit.spec.kubeConfig ? unit.spec.kubeConfig.secretRef.name.replace(/-kubeconfig$/, "") : "mgmt",
      objects: renderFlux(tree, cleanPath(unit.spec.path), fluxBuildSpecOf({ ...unit.spec, postBuild: undefined })),
    }));
}

/** The first place where `want`'s fields differ from `got`'s (extra fields in `got` are fine). */
function subsetMismatch(want: unknown, got: unknown, path: string): string | undefined {
  if (isPlainObject(want)) {
    if (!isPlainObject(got)) return `${path}: want an object, live has ${JSON.stringify(got)}`;
    for (const [k, v] of Object.entries(want)) {
      if (v === undefined) continue;
      const m = subsetMismatch(v, got[k], `${path}.${k}`);
      if (m) return m;
    }
    return undefined;
  }
  return deepEqual(want, got) ? undefined : `${path}: want ${JSON.stringify(want)}, live has ${JSON.stringify(got)}`;
}

const readyOf = (k: Kustomization) => k.status?.conditions?.find((c) => c.type === "Ready");
const unitKey = (k: { metadata: { namespace?: string; name?: string } }) =>
  `${k.metadata.namespace}/${k.metadata.name}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("the controller survives SIGKILL at random moments of a rollout", () => {
  let harness: Harness;
  let repo: TestRepo;
  let server: GitHttpServer;
  let tmp: string;
  const clients = new Map<string, ClusterClient>();
  let controller: CliProcess | undefined;
  let hookUrl = "";
  const token = randomBytes(16).toString("hex");
  const hookSecret = randomBytes(16).toString("hex");

  const mgmt = () => clients.get("mgmt")!;
  const repoUrl = () => `${server.url}/repo.git`;

  const startController = async () => {
    const proc = startCli(
      [
        "controller",
        "--kubeconfig",
        join(tmp, "mgmt.kubeconfig"),
        "--repo",
        repoUrl(),
        "--concurrent",
        "4",
        "--cache-dir",
        join(tmp, "cache"),
        "--listen",
        "127.0.0.1:0",
        "--allow-insecure-http",
      ],
      {
        env: { FLOTILLA_WEBHOOK_TOKEN: token, FLOTILLA_WEBHOOK_SECRET: hookSecret, FLOTILLA_LOG_LEVEL: "info" },
      },
    );
    controller = proc;
    return proc;
  };

  /** A generic signed push, as a forge would send it: the controller polls its sources at once. */
  const push = async () => {
    const body = JSON.stringify({ ref: "refs/heads/main", repository: { url: repoUrl() } });
    const proc = controller!;
    if (!hookUrl)
      hookUrl = `${String((await proc.waitForLog((l) => typeof l.url === "string" && String(l.msg).startsWith("serving"), 30_000)).url)}/hook/${token}`;
    const res = await fetch(hookUrl, {
      method: "POST",
      body,
      headers: {
        "content-type": "application/json",
        "x-signature": `sha256=${createHmac("sha256", hookSecret).update(body).digest("hex")}`,
      },
    });
    expect(res.status, `webhook answered ${res.status}: ${await res.clone().text()}`).toBe(200);
  };

  const kustomizations = async () =>
    (await mgmt().request<{ items: Kustomization[] }>("GET", "/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations"))
      .body.items;

  /**
   * Waits until the management cluster holds exactly the planned units, every one Ready at HEAD
   * with the planned spec and none Terminating; returns what is still off when it times out.
   */
  const converge = async (expected: ExpectedUnit[], sha: string): Promise<void> => {
    const revision = `main@sha1:${sha}`;
    const planned = new Map(expected.map((e) => [unitKey(e.unit), e.unit]));
    const deadline = Date.now() + CONVERGE_MS;
    let off: string[] = [];
    for (;;) {
      off = [];
      const live = await kustomizations().catch((error: unknown) => {
        off.push(`listing Kustomizations: ${(error as Error).message}`);
        return [];
      });
      const seen = new Set<string>();
      for (const k of live) {
        const key = unitKey(k);
        seen.add(key);
        const want = planned.get(key);
        if (!want) off.push(`${key}: not in the plan of HEAD${k.metadata.deletionTimestamp ? " (Terminating)" : ""}`);
        else if (k.metadata.deletionTimestamp) off.push(`${key}: Terminating`);
        else if (k.spec.path !== want.spec.path || !deepEqual(k.spec.dependsOn ?? [], want.spec.dependsOn ?? []))
          off.push(
            `${key}: spec is not the plan's (path ${k.spec.path}, dependsOn ${JSON.stringify(k.spec.dependsOn)})`,
          );
        else if (readyOf(k)?.status !== "True" || k.status?.lastAppliedRevision !== revision)
          off.push(
            `${key}: ${readyOf(k)?.status ?? "no Ready"} ${readyOf(k)?.reason ?? ""} ${readyOf(k)?.message ?? ""} (last applied ${k.status?.lastAppliedRevision})`,
          );
      }
      for (const key of planned.keys()) if (!seen.has(key)) off.push(`${key}: planned but absent`);
      if (off.length === 0) return;
      if (Date.now() > deadline) break;
      await sleep(200);
    }
    throw new Error(
      `the fleet did not converge on ${sha.slice(0, 7)} within ${CONVERGE_MS} ms:\n  ${off.join("\n  ")}\n${controller?.tail(40) ?? ""}`,
    );
  };

  /** Every id ever rendered, per cluster, with what is needed to look it up again. */
  const everRendered = new Map<string, Map<string, KubeObject>>();
  const handMade: Array<{ cluster: string; path: string; resourceVersion: string; data: Record<string, string> }> = [];

  /** Records what a revision renders, so that check (b) knows it once it leaves git. */
  const remember = (expected: ExpectedUnit[]) => {
    for (const e of expected) {
      const ever = everRendered.get(e.cluster) ?? new Map<string, KubeObject>();
      everRendered.set(e.cluster, ever);
      for (const o of e.objects) ever.set(objectId(o), o);
    }
  };

  /** Compares the clusters with the render of HEAD; returns every difference found. */
  const compare = async (expected: ExpectedUnit[]): Promise<string[]> => {
    const problems: string[] = [];
    remember(expected);
    const live = new Map((await kustomizations()).map((k) => [unitKey(k), k]));
    const expectedIds = new Map<string, Map<string, { unit: string; object: KubeObject }>>();
    for (const name of clients.keys()) expectedIds.set(name, new Map());
    for (const e of expected) {
      const ids = expectedIds.get(e.cluster)!;
      for (const o of e.objects) {
        const id = objectId(o);
        if (ids.has(id)) problems.push(`test bug: ${id} is rendered by two units of ${e.cluster}`);
        ids.set(id, { unit: unitKey(e.unit), object: o });
      }
      // (d) the unit's inventory is exactly its render.
      const inventory = live.get(unitKey(e.unit))?.status?.inventory?.entries ?? [];
      const want = e.objects.map((o) => `${objectId(o)}@${versionOf(o.apiVersion)}`).sort();
      const got = inventory.map((x) => `${x.id}@${x.v}`).sort();
      if (!deepEqual(want, got)) {
        problems.push(
          `${e.cluster} ${unitKey(e.unit)}: status.inventory ${JSON.stringify(got)} is not its render ${JSON.stringify(want)}`,
        );
      }
    }
    await Promise.all(
      [...clients].map(async ([name, client]) => {
        const ids = expectedIds.get(name)!;
        // (a) every rendered object is there, owned by its unit, with the rendered content.
        await Promise.all(
          [...ids].map(async ([id, { unit, object }]) => {
            const res = await client.request<KubeObject>(
              "GET",
              objectPath(object.kind, object.metadata.namespace, object.metadata.name!),
              undefined,
              { allow: [404] },
            );
            if (res.status === 404) return problems.push(`${name}: ${objectRef(object)} of ${unit} is missing`);
            const o = res.body;
            if (o.metadata.deletionTimestamp)
              return problems.push(`${name}: ${objectRef(object)} of ${unit} is being deleted`);
            const labels = o.metadata.labels ?? {};
            const owner = `${labels[LABEL_OWNER_NAMESPACE]}/${labels[LABEL_OWNER_NAME]}`;
            if (owner !== unit) problems.push(`${name}: ${objectRef(object)} is labelled for ${owner}, not ${unit}`);
            if (object.kind === "ConfigMap") {
              if (!deepEqual(o.data ?? {}, object.data ?? {}))
                problems.push(
                  `${name}: ${id} data ${JSON.stringify(o.data)} is not the render's ${JSON.stringify(object.data)}`,
                );
            } else {
              const { metadata, ...rest } = object;
              const m =
                subsetMismatch(rest, o, objectRef(object)) ??
                subsetMismatch(
                  { labels: metadata.labels, annotations: metadata.annotations },
                  o.metadata,
                  `${objectRef(object)}.metadata`,
                );
              if (m) problems.push(`${name}: ${m}`);
            }
            return undefined;
          }),
        );
        // (b) nothing that left git is still there: every object ever rendered and no longer is
        // gone (or Terminating: these apiservers run no namespace controller).
        await Promise.all(
          [...(everRendered.get(name) ?? new Map<string, KubeObject>())].map(async ([id, object]) => {
            if (ids.has(id)) return;
            const res = await client.request<KubeObject>(
              "GET",
              objectPath(object.kind, object.metadata.namespace, object.metadata.name!),
              undefined,
              { allow: [404] },
            );
            if (res.status === 200 && !res.body.metadata.deletionTimestamp) {
              const labels = res.body.metadata.labels ?? {};
              problems.push(
                `${name}: ${objectRef(object)} left git but is still there (labelled for ${labels[LABEL_OWNER_NAMESPACE]}/${labels[LABEL_OWNER_NAME]})`,
              );
            }
          }),
        );
        // ...and no object labelled as a unit's is outside that unit's render.
        for (const kind of LISTED[name] ?? []) {
          const k = kindInfo(kind);
          const res = await client.request<{ items?: KubeObject[] }>(
            "GET",
            `${base(k)}/${k.plural}?labelSelector=${encodeURIComponent(LABEL_OWNER_NAME)}`,
            undefined,
            { allow: [404] },
          );
          for (const o of res.body.items ?? []) {
            if (o.metadata.deletionTimestamp) continue;
            const labels = o.metadata.labels ?? {};
            const unit = `${labels[LABEL_OWNER_NAMESPACE]}/${labels[LABEL_OWNER_NAME]}`;
            const id = objectId({
              apiVersion: k.group ? `${k.group}/${k.version}` : k.version,
              kind,
              metadata: o.metadata,
            });
            if (ids.get(id)?.unit !== unit)
              problems.push(
                `${name}: ${kind}/${o.metadata.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata.name} labelled for ${unit} is not in its render`,
              );
          }
        }
      }),
    );
    // (c) what a person made by hand is neither pruned nor changed.
    for (const h of handMade) {
      const res = await clients.get(h.cluster)!.request<KubeObject>("GET", h.path, undefined, { allow: [404] });
      if (res.status === 404) problems.push(`${h.cluster}: hand-made ${h.path} was deleted`);
      else if (res.body.metadata.resourceVersion !== h.resourceVersion || !deepEqual(res.body.data, h.data))
        problems.push(
          `${h.cluster}: hand-made ${h.path} was changed (resourceVersion ${h.resourceVersion} → ${res.body.metadata.resourceVersion})`,
        );
    }
    return problems.sort();
  };

  beforeAll(async () => {
    ensureBuiltCli();
    harness = await startHarness({ profile: "apiserver", clusters: ["mgmt", "w1", "w2"] });
    for (const name of ["mgmt", "w1", "w2"])
      clients.set(name, ClusterClient.fromKubeconfig(harness.get(name)!.kubeconfig));
    await installCrds(mgmt());
    for (const w of ["w1", "w2"]) {
      await mgmt().request(
        "POST",
        "/api/v1/namespaces",
        { apiVersion: "v1", kind: "Namespace", metadata: { name: w } },
        { allow: [409] },
      );
      await mgmt().request("POST", `/api/v1/namespaces/${w}/secrets`, {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: `${w}-kubeconfig`, namespace: w },
        type: "cluster.x-k8s.io/secret",
        stringData: { value: harness.get(w)!.kubeconfig },
      });
    }
    tmp = mkdtempSync(join(tmpdir(), "flotilla-crash-"));
    writeFileSync(join(tmp, "mgmt.kubeconfig"), harness.get("mgmt")!.kubeconfig);
    repo = TestRepo.create();
    server = await startGitHttpServer(repo.root);
  }, 180_000);

  afterAll(async () => {
    await killAllCliProcesses();
    for (const c of clients.values()) c.close();
    await server?.stop();
    await harness?.stop();
    repo?.remove();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it(`converges after each of ${ROUNDS} kills, losing, leaving and touching nothing (seed ${SEED})`, async () => {
    process.stdout.write(`crash-safety: seed ${SEED} (FLOTILLA_CRASH_SEED=${SEED} replays it)\n`);
    const rnd = prng(SEED);
    const fleet = new Fleet(rnd);
    repo.commit("feat: the fleet", Object.fromEntries(fleet.files));
    repo.publish();
    let sha = repo.git("rev-parse", "HEAD");
    await startController();
    let expected = expectedFleet(repo, join(tmp, "head"), repoUrl());
    expect(expected.length).toBeGreaterThanOrEqual(12);
    await converge(expected, sha);
    expect(await compare(expected)).toEqual([]);

    // Objects a person made by hand: in a tenant's namespace and in default, on each cluster.
    for (const c of ["w1", "w2"]) {
      for (const ns of ["team-a", "default"]) {
        const data = { made: "by hand" };
        const path = `/api/v1/namespaces/${ns}/configmaps/hand-made`;
        const res = await clients
          .get(c)!
          .request<KubeObject>("POST", `/api/v1/namespaces/${ns}/configmaps?fieldManager=person`, {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: { name: "hand-made", namespace: ns },
            data,
          });
        handMade.push({ cluster: c, path, resourceVersion: res.body.metadata.resourceVersion as string, data });
      }
    }
    const objectCount = expected.reduce((n, e) => n + e.objects.length, 0);
    process.stdout.write(`crash-safety: ${expected.length} units, ${objectCount} objects at the start\n`);

    const converged: number[] = [];
    let extraKills = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      // A commit reaches the running controller through a push webhook; it starts rolling it out.
      const changes: Changes = {};
      const what = Array.from({ length: 2 + Math.floor(rnd() * 3) }, () => fleet.mutate(changes));
      repo.commit(`round ${round}: ${what.join(", ")}`, changes);
      repo.push();
      const revisionA = `main@sha1:${repo.git("rev-parse", "HEAD")}`;
      const unitsA = expectedFleet(repo, join(tmp, "head"), repoUrl());
      remember(unitsA);
      await push();
      const pushed = Date.now();
      const linesBefore = controller!.logLines().length;
      // The kill: at a random moment of the first 3 s (fetch, plan, apply, status), or — as a
      // rollout of this fleet takes a few hundred milliseconds — within 500 ms of the controller
      // seeing the new revision, where units apply, prune and write status.
      const killed = controller!;
      if (rnd() < 0.4) await sleep(Math.floor(rnd() * MAX_RUN_MS));
      else {
        const wait = Math.floor(rnd() * 500);
        await killed
          .waitForLog((l) => l.msg === "new revision" && l.revision === revisionA, MAX_RUN_MS)
          .catch(() => undefined);
        await sleep(wait);
      }
      const runMs = Date.now() - pushed;
      await killed.kill("SIGKILL");
      // The reconciler logs "applied" with the revision after the status write; apply itself logs
      // "applied" (no revision) when it changed something. A unit with the second and not the first
      // was killed between changing its cluster and recording it.
      const lines = killed.logLines().slice(linesBefore);
      const recorded = new Set(
        lines.filter((l) => l.msg === "applied" && l.revision === revisionA).map((l) => String(l.unit)),
      );
      const unitsOfA = new Set(unitsA.map((e) => unitKey(e.unit)));
      const unrecorded = new Map(
        lines
          .filter(
            (l) =>
              l.msg === "applied" &&
              l.revision === undefined &&
              unitsOfA.has(String(l.unit)) &&
              !recorded.has(String(l.unit)),
          )
          .map((l) => [String(l.unit), String(l.changes)]),
      );
      const appliedBeforeKill = recorded.size;
      hookUrl = "";
      // Sometimes more commits land while the controller is down: some of what it was applying
      // leaves git again before it comes back.
      let note = "";
      if (rnd() < 0.5) {
        const undo: Changes = {};
        const added = Object.entries(changes).filter(([, c]) => c !== null);
        for (const [p] of added) fleet.remove(p, undo);
        const more = fleet.mutate(undo);
        repo.commit(
          `round ${round}: while down, remove the ${added.length} files the last commit wrote, ${more}`,
          undo,
        );
        repo.push();
        note = " +commit while down";
      }
      sha = repo.git("rev-parse", "HEAD");
      expected = expectedFleet(repo, join(tmp, "head"), repoUrl());
      const restarted = Date.now();
      await startController();
      // Now and then the restarted controller is killed again while it catches up.
      if (rnd() < 0.25) {
        await sleep(Math.floor(rnd() * 1_500));
        await controller!.kill("SIGKILL");
        extraKills++;
        note += " +killed again while catching up";
        await startController();
      }
      await converge(expected, sha);
      converged.push(Date.now() - restarted);
      const problems = await compare(expected);
      const objects = expected.reduce((n, e) => n + e.objects.length, 0);
      process.stdout.write(
        `crash-safety: round ${round}: killed after ${runMs} ms (${appliedBeforeKill} of ${unitsA.length} units had applied the commit${unrecorded.size ? `, ${unrecorded.size} had changed their cluster without recording it: ${[...unrecorded].map(([u, c]) => `${u} ${c}`).join("; ")}` : ""})${note}; converged ${converged.at(-1)} ms after restart; ${expected.length} units, ${objects} objects\n`,
      );
      expect(
        problems,
        `round ${round} (seed ${SEED}): the clusters differ from the render of ${sha.slice(0, 7)}\n${controller!.tail(40)}`,
      ).toEqual([]);
    }

    // The end state: every unit Ready at HEAD, none stuck Terminating.
    const final = await kustomizations();
    expect(final.filter((k) => k.metadata.deletionTimestamp).map(unitKey)).toEqual([]);
    expect(final.map((k) => [unitKey(k), readyOf(k)?.status, k.status?.lastAppliedRevision])).toEqual(
      expected
        .map((e) => [unitKey(e.unit), "True", `main@sha1:${sha}`])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );
    const sorted = [...converged].sort((a, b) => a - b);
    process.stdout.write(
      `crash-safety: seed ${SEED}: ${ROUNDS} rounds, ${ROUNDS + extraKills} kills; converged after restart min ${sorted[0]} ms, median ${sorted[Math.floor(sorted.length / 2)]} ms, max ${sorted.at(-1)} ms\n`,
    );
  }, 300_000);
});
