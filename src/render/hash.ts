import { createHash } from "node:crypto";
import type { KubeObject } from "../core/object.js";

/**
 * kustomize's content hash suffix for generated ConfigMaps and Secrets: SHA-256 of a JSON encoding
 * of kind, name, data (Secrets: type and stringData; ConfigMaps: binaryData) with sorted keys and
 * Go's HTML escaping, the first ten hex digits with 0,1,3,a,e mapped to g,h,k,m,t so the suffix is
 * never a number. The name is always empty: kustomize looks `metadata/name` up as one key, finds
 * nothing, and hashes "" — matched here so suffixes equal kustomize's.
 */
export function contentHash(obj: KubeObject): string {
  const isMap = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v);
  const m: Record<string, unknown> = { kind: obj.kind, name: "", data: isMap(obj.data) ? obj.data : "" };
  if (obj.kind === "Secret") {
    m.type = typeof obj.type === "string" ? obj.type : "";
    if (isMap(obj.stringData)) m.stringData = obj.stringData;
  } else if (isMap(obj.binaryData)) m.binaryData = obj.binaryData;
  const hex = createHash("sha256").update(goJson(m)).digest("hex");
  const map: Record<string, string> = { "0": "g", "1": "h", "3": "k", a: "m", e: "t" };
  return [...hex.slice(0, 10)].map((c) => map[c] ?? c).join("");
}

/** JSON as Go's encoding/json writes it: map keys sorted, `<`, `>`, `&`, U+2028 and U+2029 escaped. */
function goJson(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "string") {
    return JSON.stringify(value).replace(
      /[<>&\u2028\u2029]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
    );
  }
  if (typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(goJson).join(",")}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${goJson(k)}:${goJson((value as Record<string, unknown>)[k])}`).join(",")}}`;
}
