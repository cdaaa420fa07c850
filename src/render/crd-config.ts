import { isPlainObject } from "../core/object.js";
import { spec } from "./field-specs.js";
import type { TransformerConfig } from "./transformer-config.js";

/**
 * The field specs kustomize reads from a `crds` file written as Go OpenAPI definitions (a map of
 * type names to `{Schema, Dependencies}`): for each type that looks like a Kubernetes object, every
 * property (followed through `$ref`s) marked `x-kubernetes-object-ref-kind` becomes a name
 * reference, `x-kubernetes-annotation` an annotation field, `x-kubernetes-label-selector` a label
 * field, `x-kubernetes-identity` a prefix/suffix field. Returns false when `doc` is not such a map.
 */
export function mergeOpenApiDefinitions(config: TransformerConfig, doc: unknown): boolean {
  if (!isPlainObject(doc)) return false;
  const definitions = Object.entries(doc).filter(([, d]) => isPlainObject(d) && isPlainObject(d.Schema));
  if (definitions.length === 0) return false;
  const schemaOf = (name: string): Record<string, unknown> | undefined => {
    const d = doc[name];
    return isPlainObject(d) && isPlainObject(d.Schema) ? d.Schema : undefined;
  };
  for (const [name] of definitions) {
    const properties = propertiesOf(schemaOf(name));
    if (!properties.kind || !properties.apiVersion || !properties.metadata) continue;
    const kind = name.split(".").pop()!;
    walk(config, kind, name, [], schemaOf, new Set());
  }
  return true;
}

function propertiesOf(schema: Record<string, unknown> | undefined): Record<string, Record<string, unknown>> {
  const props = schema?.properties;
  if (!isPlainObject(props)) return {};
  return Object.fromEntries(Object.entries(props).filter(([, p]) => isPlainObject(p))) as Record<
    string,
    Record<string, unknown>
  >;
}

function walk(
  config: TransformerConfig,
  kind: string,
  typeName: string,
  path: string[],
  schemaOf: (name: string) => Record<string, unknown> | undefined,
  visiting: Set<string>,
): void {
  if (visiting.has(typeName)) return;
  visiting.add(typeName);
  for (const [prop, property] of Object.entries(propertiesOf(schemaOf(typeName)))) {
    const at = [...path, prop];
    if (typeof property["x-kubernetes-annotation"] === "string")
      config.commonAnnotations.push(spec(at.join("/"), kind));
    if (typeof property["x-kubernetes-label-selector"] === "string") config.commonLabels.push(spec(at.join("/"), kind));
    if (typeof property["x-kubernetes-identity"] === "string") config.namePrefix.push(spec(at.join("/"), kind));
    const refVersion = property["x-kubernetes-object-ref-api-version"];
    const refKind = property["x-kubernetes-object-ref-kind"];
    if (typeof refVersion === "string" && typeof refKind === "string") {
      const nameKey =
        typeof property["x-kubernetes-object-ref-name-key"] === "string"
          ? property["x-kubernetes-object-ref-name-key"]
          : "name";
      const fieldSpec = spec([...at, nameKey].join("/"), kind);
      const existing = config.nameReference.find((n) => n.kind === refKind && n.group === undefined);
      if (existing) existing.fieldSpecs.push(fieldSpec);
      else config.nameReference.push({ kind: refKind, fieldSpecs: [fieldSpec] });
    }
    if (typeof property.$ref === "string") walk(config, kind, property.$ref, at, schemaOf, visiting);
  }
  visiting.delete(typeName);
}
