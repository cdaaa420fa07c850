import jsYaml from "js-yaml";
import { InvalidInputError } from "./errors.js";

/**
 * YAML for manifests, kustomizations and configuration. js-yaml is used for speed (render reads
 * and writes every object of a fleet); its core schema matches how Kubernetes tooling reads
 * values: `yes` and `2024-01-01` stay strings, no YAML 1.1 surprises.
 */
export interface ParsedDocument {
  /** The document's value (an object for a Kubernetes manifest). */
  value: unknown;
  /** 1-based line where the document starts. */
  line: number;
}

/**
 * Integers as Go's YAML readers (yaml.v3 in kustomize, yaml.v2 in kubectl) take them: strconv
 * base-0 rules, so `0640` is octal (file modes!), `0b101`, `0o17`, `0x1F` and `1_000` are numbers.
 */
const GO_INT =
  /^[-+]?(?:0[bB](?:_?[01])+|0[oO](?:_?[0-7])+|0[xX](?:_?[0-9a-fA-F])+|0(?:_?[0-7])+|[1-9](?:_?[0-9])*|0)$/;
const goInt = new jsYaml.Type("tag:yaml.org,2002:int", {
  kind: "scalar",
  resolve: (data: unknown) => typeof data === "string" && GO_INT.test(data),
  construct: (data: string) => {
    const negative = data.startsWith("-");
    const digits = data.replace(/^[-+]/, "").replace(/_/g, "");
    const prefix = digits.slice(0, 2).toLowerCase();
    let value: number;
    if (prefix === "0b") value = parseInt(digits.slice(2), 2);
    else if (prefix === "0o") value = parseInt(digits.slice(2), 8);
    else if (prefix === "0x") value = parseInt(digits.slice(2), 16);
    else if (digits.length > 1 && digits.startsWith("0")) value = parseInt(digits, 8);
    else value = parseInt(digits, 10);
    return negative ? -value : value;
  },
  predicate: (value: unknown) => typeof value === "number" && Number.isInteger(value),
  represent: (value: unknown) => String(value),
});

/**
 * Unquoted timestamps as yaml.v3 reads them (into a time) and kustomize then writes them:
 * Go's RFC 3339 with nanoseconds, trailing fraction zeros trimmed, `Z` for a zero offset.
 */
const GO_TIMESTAMP =
  /^(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:[Tt]| +)(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d+))?(?: *(Z|[-+]\d{1,2}(?::?\d{2})?))?)?$/;
const goTimestamp = new jsYaml.Type("tag:yaml.org,2002:timestamp", {
  kind: "scalar",
  resolve: (data: unknown) => typeof data === "string" && GO_TIMESTAMP.test(data) && acceptedByYamlV3(data),
  construct: (data: string) => {
    const m = GO_TIMESTAMP.exec(data)!;
    const pad = (s: string | undefined, n = 2) => (s ?? "0").padStart(n, "0");
    const fraction = (m[7] ?? "").slice(0, 9).replace(/0+$/, "");
    let zone = m[8] ?? "Z";
    if (zone !== "Z") {
      const z = /^([-+])(\d{1,2}):?(\d{2})?$/.exec(zone)!;
      zone = Number(z[2]) === 0 && Number(z[3] ?? 0) === 0 ? "Z" : `${z[1]}${pad(z[2])}:${pad(z[3])}`;
    }
    return `${m[1]}-${pad(m[2])}-${pad(m[3])}T${pad(m[4])}:${pad(m[5])}:${pad(m[6])}${fraction ? `.${fraction}` : ""}${zone}`;
  },
});

/** yaml.v3 tries only these layouts: a date, or date-time with `T`/`t` and a zone, or with a space and no zone. */
function acceptedByYamlV3(data: string): boolean {
  const m = GO_TIMESTAMP.exec(data)!;
  if (m[4] === undefined) return true;
  const separatedByT = /^[^ ]*[Tt]/.test(data);
  return separatedByT ? m[8] !== undefined && !/ /.test(data) : m[8] === undefined;
}

/** The core schema with Go's integer and timestamp rules and `<<` merge keys, as kustomize reads YAML. */
// js-yaml exports its built-in `types` at runtime, but @types/js-yaml does not declare them.
const mergeKey = (jsYaml as unknown as { types: { merge: jsYaml.Type } }).types.merge;
const KUBE_SCHEMA = jsYaml.CORE_SCHEMA.extend({ implicit: [goInt, mergeKey] });
/**
 * kustomize reads resource files through a YAML reader that turns unquoted timestamps into times
 * (then RFC 3339 text); patches and its own files keep them as written.
 */
const MANIFEST_SCHEMA = jsYaml.CORE_SCHEMA.extend({ implicit: [goInt, goTimestamp, mergeKey] });

/** Writing with Go's integer rules too, so strings such as `1_000` are quoted and stay strings when read back. */
const DUMP_SCHEMA = jsYaml.DEFAULT_SCHEMA.extend({ implicit: [goInt] });

/** How to read a YAML text: `manifest` reads timestamps as kustomize reads resource files. */
export interface ParseOptions {
  manifest?: boolean;
  /** A key given twice keeps its last value instead of failing: how kubectl reads a kustomization file (not resources). */
  lastKeyWins?: boolean;
}

/** Anchors make js-yaml share one value between aliases; kustomize sees independent copies. */
const ANCHOR = /(?:^|[\s\-:,[{])&[^\s]/m;

/**
 * go-yaml v3's (kustomize's YAML library) guard against alias bombs: every node decoded is one
 * operation, and one decoded under an alias is also an aliased one; when more than 100 of over
 * 1,000 operations are aliased and their share exceeds the allowed ratio (99% up to 400,000
 * operations, falling to 10% at 4,000,000), decoding stops with "excessive aliasing".
 */
const ALIAS_RATIO_LOW = 400_000;
const ALIAS_RATIO_HIGH = 4_000_000;

function allowedAliasRatio(decodeCount: number): number {
  if (decodeCount <= ALIAS_RATIO_LOW) return 0.99;
  if (decodeCount >= ALIAS_RATIO_HIGH) return 0.1;
  return 0.99 - 0.89 * ((decodeCount - ALIAS_RATIO_LOW) / (ALIAS_RATIO_HIGH - ALIAS_RATIO_LOW));
}

/**
 * Replays go-yaml's count on the value js-yaml built, where an alias is the same object met again:
 * the first visit is the anchored node, every later one an alias node (one operation) whose target
 * is decoded again, all of it aliased. The walk stops at the first operation over the ratio, so a bomb costs a few thousand
 * steps, and a document that passes costs at most about 100 times its own size (the ratio's bound).
 * (An alias of a scalar counts once, unaliased: it cannot multiply anything.)
 */
function checkAliasing(root: unknown): void {
  let decodeCount = 1; // the document node
  let aliasCount = 0;
  const seen = new Set<object>();
  const count = (aliased: boolean): void => {
    decodeCount++;
    if (aliased) aliasCount++;
    if (aliasCount > 100 && decodeCount > 1000 && aliasCount / decodeCount > allowedAliasRatio(decodeCount)) {
      throw new InvalidInputError("document contains excessive aliasing");
    }
  };
  const visit = (value: unknown, aliased: boolean): void => {
    count(aliased);
    if (value === null || typeof value !== "object") return;
    // Met before: this was an alias node, and its target node is decoded again, aliased.
    const alias = seen.has(value);
    if (alias) count(true);
    const underAlias = aliased || alias;
    seen.add(value);
    if (Array.isArray(value)) {
      for (const item of value) visit(item, underAlias);
      return;
    }
    for (const key in value as Record<string, unknown>) {
      visit(key, underAlias);
      visit((value as Record<string, unknown>)[key], underAlias);
    }
  };
  visit(root, false);
}

const DOC_MARKER = /^---(?:[ \t]|$)/;
const DOC_END = /^\.\.\.(?:[ \t]|$)/;

/** Splits a stream on `---` lines, keeping the line each document starts on. */
function splitDocuments(text: string): Array<{ text: string; line: number }> {
  const lines = text.split("\n");
  const docs: Array<{ text: string; line: number }> = [];
  let start = 0;
  let current: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.charCodeAt(0) === 45 /* - */ && DOC_MARKER.test(l)) {
      docs.push({ text: current.join("\n"), line: start + 1 });
      current = [l.slice(3)];
      start = i;
    } else if (l.charCodeAt(0) === 46 /* . */ && DOC_END.test(l)) {
      current.push("");
    } else current.push(l);
  }
  docs.push({ text: current.join("\n"), line: start + 1 });
  return docs;
}

/**
 * Parses a multi-document YAML (or JSON) text. Empty documents are dropped. Malformed input throws
 * an InvalidInputError that names `file` and the line.
 */
export function parseYamlDocuments(text: string, file: string, options: ParseOptions = {}): ParsedDocument[] {
  const schema = options.manifest ? MANIFEST_SCHEMA : KUBE_SCHEMA;
  const out: ParsedDocument[] = [];
  for (const doc of splitDocuments(text.replace(/^\uFEFF/, ""))) {
    if (!/\S/.test(doc.text.replace(/#.*$/gm, ""))) continue;
    let value: unknown;
    try {
      value = jsYaml.load(doc.text, { schema, filename: file, ...(options.lastKeyWins ? { json: true } : {}) });
      if (ANCHOR.test(doc.text)) {
        checkAliasing(value);
        value = JSON.parse(JSON.stringify(value)) as unknown;
      }
    } catch (error) {
      const e = error as { reason?: string; mark?: { line: number }; message: string };
      const line = doc.line + (e.mark?.line ?? 0);
      throw new InvalidInputError(`malformed YAML: ${e.reason ?? e.message.split("\n")[0]}`, { file, line });
    }
    if (value === null || value === undefined) continue;
    out.push({ value, line: firstContentLine(doc) });
  }
  return out;
}

function firstContentLine(doc: { text: string; line: number }): number {
  const lines = doc.text.split("\n");
  for (let i = 0; i < lines.length; i++) if (/^\s*[^\s#]/.test(lines[i]!)) return doc.line + i;
  return doc.line;
}

/** Parses a YAML text that must hold exactly one document (a kustomization, a patch, flotilla.yaml). */
export function parseYamlDocument(text: string, file: string, options: ParseOptions = {}): unknown {
  const docs = parseYamlDocuments(text, file, options);
  if (docs.length > 1)
    throw new InvalidInputError(`expected one YAML document, found ${docs.length}`, { file, line: docs[1]!.line });
  return docs[0]?.value ?? null;
}

/**
 * YAML as kubectl prints it: two-space indent, sequences not indented under their key, no line
 * folding; strings that any YAML 1.1 reader would take for another type (`yes`, `on`, `010`) quoted.
 */
export function toYaml(value: unknown): string {
  return jsYaml.dump(value, {
    schema: DUMP_SCHEMA,
    lineWidth: -1,
    noRefs: true,
    noArrayIndent: true,
    quotingType: '"',
  });
}

/** Many objects as one multi-document YAML stream separated by `---`. */
export function toYamlStream(values: readonly unknown[]): string {
  return values.map(toYaml).join("---\n");
}
