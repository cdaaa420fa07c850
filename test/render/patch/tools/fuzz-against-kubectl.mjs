#!/usr/bin/env node
// Differential check of strategicMerge against the oracle: random Deployment (or, with KIND=svc,
// Service) targets and patches with keyed lists, duplicates, directives and nulls, each run through
// `kubectl kustomize` and through the built code, printing every case where they differ.
// Usage: npx tsc -p tsconfig.json && node test/render/patch/tools/fuzz-against-kubectl.mjs [seed] [count]
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import yaml from "js-yaml";
const dist = new URL("../../../../dist/src/", import.meta.url);
const { strategicMerge } = await import(new URL("render/patch/strategic-merge.js", dist).href);
const { builtinSchema } = await import(new URL("render/patch/schema.js", dist).href);
const { deepEqual } = await import(new URL("core/object.js", dist).href);
let seed = Number(process.argv[2] ?? 1);
const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
const pick = (xs) => xs[Math.floor(rnd() * xs.length)];
const maybe = (p) => rnd() < p;
const names = ["a", "b", "c"];
function env(dir) {
  const e = { name: pick(["X", "Y", "Z"]) };
  if (maybe(0.7)) e.value = pick(["1", "2"]);
  if (dir && maybe(0.15)) e.$patch = pick(["delete", "replace"]);
  if (dir && maybe(0.1)) e.value = null;
  return e;
}
function port() {
  const p = { containerPort: pick([80, 443, 8080]) };
  if (maybe(0.4)) p.protocol = pick(["TCP", "UDP"]);
  if (maybe(0.5)) p.name = pick(["p1", "p2"]);
  return p;
}
function container(dir) {
  const c = { name: pick(names) };
  if (maybe(0.6)) c.image = pick(["i:1", "i:2"]);
  if (maybe(0.4)) c.env = Array.from({ length: Math.floor(rnd() * 3) }, () => env(dir));
  if (maybe(0.3)) c.ports = Array.from({ length: Math.floor(rnd() * 3) }, () => port());
  if (maybe(0.2)) c.args = [pick(["--x", "--y"])];
  if (maybe(0.2)) c.volumeMounts = [{ name: "v", mountPath: pick(["/a", "/b"]) }];
  if (dir && maybe(0.1)) c.$patch = pick(["delete", "replace"]);
  if (dir && maybe(0.1)) c.image = null;
  return c;
}
function podSpec(dir) {
  const s = {};
  if (maybe(0.9)) s.containers = Array.from({ length: Math.floor(rnd() * 3) + (dir ? 0 : 1) }, () => container(dir));
  if (dir && s.containers && maybe(0.1)) s.containers.push({ $patch: pick(["replace", "delete", "merge"]) });
  if (maybe(0.4))
    s.volumes = Array.from({ length: Math.floor(rnd() * 3) }, () => ({
      name: pick(["v", "w"]),
      ...(maybe(0.5) ? { emptyDir: {} } : { configMap: { name: "c" } }),
    }));
  if (maybe(0.3)) s.tolerations = [{ key: pick(["k1", "k2"]), operator: "Exists" }];
  if (maybe(0.2)) s.nodeSelector = { [pick(["x", "y"])]: pick(["1", null].slice(0, dir ? 2 : 1)) };
  if (dir && maybe(0.05)) s.$patch = "replace";
  return s;
}
const svc = (dir) => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name: "web" },
  spec: {
    ports: Array.from({ length: Math.floor(rnd() * 4) }, () => {
      const p = { port: pick([80, 443]) };
      if (maybe(0.5)) p.protocol = pick(["TCP", "UDP"]);
      if (maybe(0.5)) p.name = pick(["a", "b", "c"]);
      if (maybe(0.3)) p.targetPort = pick([1, 2]);
      if (dir && maybe(0.1)) p.$patch = "delete";
      return p;
    }),
    ...(maybe(0.3) ? { selector: { app: pick(["x", null].slice(0, dir ? 2 : 1)) } } : {}),
  },
});
const mkDep = (dir) => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "web", ...(maybe(0.3) ? { finalizers: [pick(["f1", "f2"]), pick(["f2", "f3"])] } : {}) },
  spec: { ...(maybe(0.5) ? { replicas: dir && maybe(0.3) ? null : 2 } : {}), template: { spec: podSpec(dir) } },
});
const mk = process.env.KIND === "svc" ? svc : mkDep;
const n = Number(process.argv[3] ?? 50);
let bad = 0;
for (let i = 0; i < n; i++) {
  const base = mk(false),
    patch = mk(true);
  const dir = join(tmpdir(), `flotilla-patch-fuzz-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  writeFileSync(`${dir}/base.yaml`, yaml.dump(base));
  writeFileSync(`${dir}/patch.yaml`, yaml.dump(patch));
  writeFileSync(`${dir}/kustomization.yaml`, "resources:\n- base.yaml\npatches:\n- path: patch.yaml\n");
  let expected,
    mine,
    expErr = false,
    myErr = false;
  try {
    expected =
      yaml
        .loadAll(execFileSync("kubectl", ["kustomize", dir], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }))
        .filter(Boolean)[0] ?? null;
  } catch {
    expErr = true;
  }
  try {
    mine = strategicMerge(structuredClone(base), structuredClone(patch), builtinSchema);
  } catch {
    myErr = true;
  }
  const same = expErr || myErr ? expErr === myErr : deepEqual(expected, mine);
  if (!same) {
    bad++;
    console.log(
      "DIFF",
      i,
      JSON.stringify({ base, patch }),
      "\nkubectl:",
      JSON.stringify(expected),
      expErr,
      "\nmine:   ",
      JSON.stringify(mine),
      myErr,
    );
  }
}
console.log(`seed ${process.argv[2]}: ${n} cases, ${bad} differ`);
