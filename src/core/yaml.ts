import { LineCounter, parseAllDocuments, stringify } from "yaml";
import { InvalidInputError } from "./errors.js";

export interface ParsedDocument {
  /** The document's value (an object for a Kubernetes manifest; null for an empty document). */
  value: unknown;
  /** 1-based line where the document starts. */
  line: number;
}

/**
 * Parses a multi-document YAML (or JSON) text. Empty documents are dropped. Malformed input throws
 * an InvalidInputError that names `file` and the line.
 */
export function parseYamlDocuments(text: string, file: string): ParsedDocument[] {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, uniqueKeys: true, merge: true, strict: false });
  const out: ParsedDocument[] = [];
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    const error = doc.errors[0];
    if (error) {
      const line = lineCounter.linePos(error.pos[0]).line;
      throw new InvalidInputError(`malformed YAML: ${error.message.split("\n")[0]}`, { file, line });
    }
    const value = doc.toJS({ maxAliasCount: 10_000 }) as unknown;
    if (value === null || value === undefined) continue;
    const start = doc.contents?.range?.[0] ?? 0;
    out.push({ value, line: lineCounter.linePos(start).line });
  }
  return out;
}

/** Parses a YAML text that must hold exactly one document (a kustomization, a patch, flotilla.yaml). */
export function parseYamlDocument(text: string, file: string): unknown {
  const docs = parseYamlDocuments(text, file);
  if (docs.length > 1) throw new InvalidInputError(`expected one YAML document, found ${docs.length}`, { file, line: docs[1]!.line });
  return docs[0]?.value ?? null;
}

/** YAML as kubectl prints it: two-space indent, sequences not indented under their key, no folding. */
export function toYaml(value: unknown): string {
  // YAML 1.1 rules for what needs quotes, so `yes`, `on` or `010` stay strings for every reader (kubectl, PyYAML).
  return stringify(value, { version: "1.1", indent: 2, indentSeq: false, lineWidth: 0, minContentWidth: 0, aliasDuplicateObjects: false });
}

/** Many objects as one multi-document YAML stream separated by `---`. */
export function toYamlStream(values: readonly unknown[]): string {
  return values.map(toYaml).join("---\n");
}
