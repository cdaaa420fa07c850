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
export function parseYamlDocuments(text: string, file: string): ParsedDocument[] {
  const out: ParsedDocument[] = [];
  for (const doc of splitDocuments(text.replace(/^\uFEFF/, ""))) {
    if (!/\S/.test(doc.text.replace(/#.*$/gm, ""))) continue;
    let value: unknown;
    try {
      value = jsYaml.load(doc.text, { schema: jsYaml.CORE_SCHEMA, filename: file });
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
export function parseYamlDocument(text: string, file: string): unknown {
  const docs = parseYamlDocuments(text, file);
  if (docs.length > 1) throw new InvalidInputError(`expected one YAML document, found ${docs.length}`, { file, line: docs[1]!.line });
  return docs[0]?.value ?? null;
}

/**
 * YAML as kubectl prints it: two-space indent, sequences not indented under their key, no line
 * folding; strings that any YAML 1.1 reader would take for another type (`yes`, `on`, `010`) quoted.
 */
export function toYaml(value: unknown): string {
  return jsYaml.dump(value, { lineWidth: -1, noRefs: true, noArrayIndent: true, quotingType: '"' });
}

/** Many objects as one multi-document YAML stream separated by `---`. */
export function toYamlStream(values: readonly unknown[]): string {
  return values.map(toYaml).join("---\n");
}
