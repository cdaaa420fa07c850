import { InvalidInputError } from "../core/errors.js";
import { groupOf, versionOf, type KubeObject } from "../core/object.js";
import type { PatchTarget } from "./kustomization-file.js";
import type { Resource } from "./resource.js";

type Requirement = (labels: Record<string, string>) => boolean;

/** Parses a Kubernetes label selector (`a=b,c!=d,e in (f,g),h notin (i),j,!k`) into a predicate. */
export function parseLabelSelector(selector: string, where: { file?: string; field?: string } = {}): Requirement {
  const parts: string[] = [];
  let depth = 0;
  let current = "";
  for (const c of selector) {
    if (c === "(") depth++;
    if (c === ")") depth--;
    if (c === "," && depth === 0) {
      parts.push(current);
      current = "";
    } else current += c;
  }
  if (current.trim()) parts.push(current);
  const reqs: Requirement[] = parts.map((raw) => {
    const p = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = /^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(p))) {
      const [, key, op, list] = m as unknown as [string, string, string, string];
      const values = new Set(
        list
          .split(",")
          .map((v) => v.trim())
          .filter(Boolean),
      );
      return op === "in" ? (l) => key in l && values.has(l[key]!) : (l) => !(key in l) || !values.has(l[key]!);
    }
    if ((m = /^([^\s!=]+)\s*!=\s*(\S*)$/.exec(p))) {
      const [, key, value] = m as unknown as [string, string, string];
      return (l) => l[key] !== value;
    }
    if ((m = /^([^\s!=]+)\s*==?\s*(\S*)$/.exec(p))) {
      const [, key, value] = m as unknown as [string, string, string];
      return (l) => l[key] === value;
    }
    if ((m = /^!([^\s!=]+)$/.exec(p))) {
      const key = m[1]!;
      return (l) => !(key in l);
    }
    if ((m = /^([^\s!=()]+)$/.exec(p))) {
      const key = m[1]!;
      return (l) => key in l;
    }
    throw new InvalidInputError(`'${p}' is not a label selector requirement`, where);
  });
  return (labels) => reqs.every((r) => r(labels));
}

const regexCache = new Map<string, RegExp>();
function anchored(pattern: string): RegExp {
  let re = regexCache.get(pattern);
  if (!re) {
    try {
      re = new RegExp(`^(?:${pattern})$`);
    } catch {
      re = new RegExp(`^${pattern.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);
    }
    regexCache.set(pattern, re);
  }
  return re;
}

/**
 * A predicate for kustomize's `target`/`select` selectors: group, version, kind, name and
 * namespace (each an anchored regular expression), labelSelector and annotationSelector.
 */
export function compileSelector(
  target: PatchTarget,
  where: { file?: string; field?: string } = {},
): (res: Resource) => boolean {
  const labels = target.labelSelector ? parseLabelSelector(target.labelSelector, where) : undefined;
  const annotations = target.annotationSelector ? parseLabelSelector(target.annotationSelector, where) : undefined;
  const name = target.name ? anchored(target.name) : undefined;
  const namespace = target.namespace ? anchored(target.namespace) : undefined;
  const kind = target.kind ? anchored(target.kind) : undefined;
  // kustomize's SelectorRegex: group and version are anchored regular expressions too.
  const group = target.group ? anchored(target.group) : undefined;
  const version = target.version ? anchored(target.version) : undefined;
  return (res) => {
    const obj = res.obj;
    if (group && !group.test(groupOf(obj.apiVersion))) return false;
    if (version && !version.test(versionOf(obj.apiVersion))) return false;
    if (kind && !kind.test(obj.kind)) return false;
    // kustomize's Select: the original or the current name and namespace (namespaces as effective ones).
    const original = res.names[0] ?? { name: obj.metadata.name ?? "", namespace: obj.metadata.namespace };
    if (name && !name.test(obj.metadata.name ?? "") && !name.test(original.name)) return false;
    if (
      namespace &&
      !namespace.test(obj.metadata.namespace || "default") &&
      !namespace.test(original.namespace || "default")
    )
      return false;
    if (labels && !labels(obj.metadata.labels ?? {})) return false;
    if (annotations && !annotations(obj.metadata.annotations ?? {})) return false;
    return true;
  };
}

/**
 * Whether an object is the one a patch names by apiVersion, kind, name and namespace, as any of the
 * ids it has had (kustomize's previous ids: each a name, namespace and kind together). A patch
 * without a namespace names the default namespace, as kustomize's ids do.
 */
export function matchesPatchIdentity(res: Resource, patch: KubeObject): boolean {
  // kustomize matches a patch by its whole id: group and version (a v2 patch leaves the v1 object alone).
  if (
    patch.apiVersion &&
    (groupOf(patch.apiVersion) !== groupOf(res.obj.apiVersion) ||
      versionOf(patch.apiVersion) !== versionOf(res.obj.apiVersion))
  )
    return false;
  const name = patch.metadata?.name;
  const ns = effectiveNamespace(patch.metadata?.namespace);
  return res.names.some(
    (n) =>
      (n.kind ?? res.obj.kind) === patch.kind &&
      (name === undefined || n.name === name) &&
      effectiveNamespace(n.namespace) === ns,
  );
}

function effectiveNamespace(ns: string | undefined): string {
  return ns === undefined || ns === "" ? "default" : ns;
}
