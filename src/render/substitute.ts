import { ANNOTATION_SUBSTITUTE } from "../core/flux.js";
import { InvalidInputError } from "../core/errors.js";
import { objectRef, type KubeObject } from "../core/object.js";
import { parseYamlDocument, toYaml } from "../core/yaml.js";

const NAME = /^[_a-zA-Z][_a-zA-Z0-9]*$/;

/**
 * Flux `postBuild` substitution on one object: `${var}`, `${var:=default}`, `${var:-default}`;
 * `$${var}` stays as the literal `${var}`. An undefined variable without a default is an error
 * (Flux's strict mode). Objects labelled or annotated `kustomize.toolkit.fluxcd.io/substitute:
 * disabled` are left alone. Substitution works on the object's YAML text, as Flux's does, so a
 * value may become a number or boolean.
 */
export function substituteObject(
  obj: KubeObject,
  vars: Readonly<Record<string, string>>,
  file = "postBuild",
): KubeObject {
  if (
    obj.metadata.annotations?.[ANNOTATION_SUBSTITUTE] === "disabled" ||
    obj.metadata.labels?.[ANNOTATION_SUBSTITUTE] === "disabled"
  )
    return obj;
  const text = toYaml(obj);
  if (!text.includes("${")) return obj;
  const out = substituteText(text, vars, objectRef(obj), file);
  if (out === text) return obj;
  return parseYamlDocument(out, `${file} (${objectRef(obj)} after substitution)`) as KubeObject;
}

/** Substitutes variables in a text; errors name the object and the variable. */
export function substituteText(
  text: string,
  vars: Readonly<Record<string, string>>,
  object = "",
  file = "postBuild",
): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const start = text.indexOf("$", i);
    if (start < 0) {
      out += text.slice(i);
      break;
    }
    out += text.slice(i, start);
    if (text.startsWith("$${", start)) {
      const end = text.indexOf("}", start + 3);
      if (end < 0) {
        out += text.slice(start);
        break;
      }
      out += text.slice(start + 1, end + 1);
      i = end + 1;
      continue;
    }
    if (!text.startsWith("${", start)) {
      out += "$";
      i = start + 1;
      continue;
    }
    const end = text.indexOf("}", start + 2);
    if (end < 0) {
      out += text.slice(start);
      break;
    }
    const expr = text.slice(start + 2, end);
    const m = /^([^:}]*)(?::([=-])(.*))?$/s.exec(expr);
    const name = m?.[1] ?? expr;
    if (!NAME.test(name)) {
      throw new InvalidInputError(
        `'\${${expr}}' is not a valid variable reference: names are letters, digits and underscores`,
        {
          file,
          object,
          field: "postBuild.substitute",
        },
      );
    }
    const value = vars[name];
    if (value !== undefined && value !== "") out += value;
    else if (m?.[2] !== undefined) out += m[3] ?? "";
    else if (value !== undefined) out += value;
    else
      throw new InvalidInputError(`variable '${name}' is not set and has no default (strict mode)`, {
        file,
        object,
        field: "postBuild.substitute",
      });
    i = end + 1;
  }
  return out;
}
