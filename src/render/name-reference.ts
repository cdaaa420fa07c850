import { InvalidInputError } from "../core/errors.js";
import { groupOf, isPlainObject } from "../core/object.js";
import { isClusterScoped, specMatches } from "./field-specs.js";
import { describeResource, hadName, type Resource } from "./resource.js";
import type { TransformerConfig } from "./transformer-config.js";
import { visitPath } from "./walk.js";

/**
 * After names changed (prefix, suffix, hash, namespace), rewrites the fields that refer to an
 * object by one of its former names so they name it as it is now: a Deployment's ConfigMap
 * volumes, a RoleBinding's roleRef and ServiceAccount subjects, an Ingress's Services, … The
 * referred object must be in the referrer's namespace unless it is cluster-scoped.
 */
export function fixNameReferences(
  resources: readonly Resource[],
  config: TransformerConfig,
  clusterScoped: ReadonlySet<string>,
): void {
  for (const res of resources) assertSubjectNamespaces(res);
  // Index the possible referrals by kind and former name once, so the pass stays linear.
  const byKindAndName = new Map<string, Resource[]>();
  for (const res of resources) {
    const seen = new Set<string>();
    for (const { name } of res.names) {
      const key = `${res.obj.kind}\u0000${name}`;
      if (seen.has(key)) continue;
      seen.add(key);
      let list = byKindAndName.get(key);
      if (!list) byKindAndName.set(key, (list = []));
      list.push(res);
    }
  }

  for (const ref of config.nameReference) {
    const groupOk = (res: Resource) =>
      ref.group === undefined || groupOf(res.obj.apiVersion) === ref.group.split("/")[0];
    /** kustomize's selectReferral: the one object `oldName` now names, undefined for none, an error for several. */
    const find = (
      oldName: string,
      referrer: Resource,
      field: string,
      map: boolean,
      namespace?: string,
    ): Resource | undefined => {
      // kustomize's candidates: objects that had the name before (an object never renamed or moved is no referral).
      const candidates = (byKindAndName.get(`${ref.kind}\u0000${oldName}`) ?? []).filter(
        (c) => groupOk(c) && hadName(c, oldName),
      );
      if (candidates.length === 0) return undefined;
      const referrerNs = referrer.obj.metadata.namespace ?? "";
      const scoped = candidates.filter((c) => {
        if (isClusterScoped(c.obj, clusterScoped)) return true;
        // kustomize counts an object with no namespace as being in `default`.
        const same = (ns: string | undefined) => (ns || "default") === (namespace || "default");
        if (namespace !== undefined) return c.names.some((n) => same(n.namespace)) || same(c.obj.metadata.namespace);
        return isClusterScoped(referrer.obj, clusterScoped) || (c.obj.metadata.namespace ?? "") === referrerNs;
      });
      const pool = scoped.length > 0 || namespace !== undefined ? scoped : candidates.length === 1 ? candidates : [];
      if (pool.length <= 1) return pool[0];
      let sieved = pool.filter((c) => affixesMatch(c, referrer, true));
      if (sieved.length > 1) sieved = sieved.filter((c) => affixesMatch(c, referrer, false));
      if (sieved.length <= 1) return sieved[0];
      // Several that would write the same name (and namespace, for a map) are as good as one.
      const first = sieved[0]!.obj.metadata;
      if (
        sieved.every(
          (c) => c.obj.metadata.name === first.name && (!map || c.obj.metadata.namespace === first.namespace),
        )
      )
        return sieved[0];
      throw new InvalidInputError(
        `'${oldName}' may refer to any of ${sieved.map(describeResource).join(", ")}: found multiple possible referrals, as kustomize says`,
        { file: referrer.file, object: describeResource(referrer), field },
      );
    };

    for (const referrer of resources) {
      for (const fs of ref.fieldSpecs) {
        if (!specMatches(fs, referrer.obj)) continue;
        const fieldName = fs.path.join(".");
        visitPath(referrer.obj, fs.path, (holder, key, value) => {
          if (typeof value === "string") {
            if (
              !Array.isArray(holder) &&
              isPlainObject(holder) &&
              typeof holder.kind === "string" &&
              holder.kind !== ref.kind &&
              key === "name"
            )
              return undefined;
            const target = find(value, referrer, fieldName, false);
            return target ? target.obj.metadata.name : undefined;
          }
          if (Array.isArray(value)) {
            return value.map((v) =>
              typeof v === "string" ? (find(v, referrer, fieldName, false)?.obj.metadata.name ?? v) : v,
            );
          }
          if (isPlainObject(value)) {
            if (Array.isArray(holder) || typeof value.name !== "string") return undefined;
            // Subjects, roleRefs and webhook services: an object with name (and kind, namespace).
            if (typeof value.kind === "string" && value.kind !== ref.kind) return undefined;
            const ns = typeof value.namespace === "string" ? value.namespace : undefined;
            const target = find(value.name, referrer, fieldName, true, ns);
            if (target) {
              value.name = target.obj.metadata.name;
              // kustomize writes the referral's namespace whenever it has one (a webhook's service without a namespace gets it).
              if (target.obj.metadata.namespace) value.namespace = target.obj.metadata.namespace;
            }
            return undefined;
          }
          return undefined;
        });
        // A list of subject maps reached through the path `subjects`.
        const list = fs.path.length === 1 ? (referrer.obj as Record<string, unknown>)[fs.path[0]!] : undefined;
        if (Array.isArray(list)) {
          for (const item of list) {
            if (!isPlainObject(item) || typeof item.name !== "string") continue;
            if (typeof item.kind === "string" && item.kind !== ref.kind) continue;
            const ns = typeof item.namespace === "string" ? item.namespace : undefined;
            const target = find(item.name, referrer, fieldName, true, ns);
            if (target) {
              item.name = target.obj.metadata.name;
              if (target.obj.metadata.namespace) item.namespace = target.obj.metadata.namespace;
            }
          }
        }
      }
    }
  }
}

/**
 * kustomize reads the namespaces of a RoleBinding's ServiceAccount subjects while it fixes name
 * references, and fails on one that is present but not a string (`namespace:` left blank).
 */
function assertSubjectNamespaces(res: Resource): void {
  if (res.obj.kind !== "RoleBinding" || !Array.isArray(res.obj.subjects)) return;
  res.obj.subjects.forEach((s: unknown, i: number) => {
    if (!isPlainObject(s) || s.kind !== "ServiceAccount" || !("namespace" in s) || typeof s.namespace === "string")
      return;
    throw new InvalidInputError(
      "namespace is blank: a ServiceAccount subject's namespace must be a string or left out",
      {
        file: res.file,
        object: `RoleBinding/${res.obj.metadata.name ?? ""}`,
        field: `subjects[${i}].namespace`,
      },
    );
  });
}

function prefixesAndSuffixes(res: Resource): [string[], string[]] {
  const pairs = res.affixes.map((a) => a.split("\u0000") as [string, string]);
  return [pairs.map((p) => p[0]).filter((p) => p !== ""), pairs.map((p) => p[1]).filter((p) => p !== "")];
}

/** Whether the shorter list is the end of the longer one (kustomize's SameEndingSubSlice). */
function sameEnding(a: readonly string[], b: readonly string[]): boolean {
  const [short, long] = a.length <= b.length ? [a, b] : [b, a];
  if (short.length === 0) return long.length === 0;
  return short.every((x, i) => x === long[long.length - short.length + i]);
}

/** kustomize's PrefixesSuffixesEquals: with allowEmpty, an object with no prefixes (or suffixes) matches any. */
function affixesMatch(candidate: Resource, referrer: Resource, allowEmpty: boolean): boolean {
  const [cp, cs] = prefixesAndSuffixes(candidate);
  const [rp, rs] = prefixesAndSuffixes(referrer);
  const prefixes = (allowEmpty && (cp.length === 0 || rp.length === 0)) || sameEnding(cp, rp);
  const suffixes = (allowEmpty && (cs.length === 0 || rs.length === 0)) || sameEnding(cs, rs);
  return prefixes && suffixes;
}
