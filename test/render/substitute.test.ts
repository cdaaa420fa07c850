import { describe, expect, it } from "vitest";
import { describeError } from "../../src/core/errors.js";
import type { KubeObject } from "../../src/core/object.js";
import { substituteObject, substituteText } from "../../src/render/substitute.js";

describe("Flux postBuild substitution", () => {
  it("replaces ${var} with its value", () => {
    expect(substituteText("name: app-${env}", { env: "prod" })).toBe("name: app-prod");
  });

  it("uses the default of ${var:=default} and ${var:-default} when the var is unset or empty", () => {
    expect(substituteText("${a:=one} ${b:-two}", {})).toBe("one two");
    expect(substituteText("${a:=one}", { a: "" })).toBe("one");
    expect(substituteText("${a:-one}", { a: "set" })).toBe("set");
  });

  it("keeps $${var} as the literal ${var}", () => {
    expect(substituteText("echo $${HOME} and $HOME", {})).toBe("echo ${HOME} and $HOME");
  });

  it("fails on an undefined variable without a default, naming the variable and object", () => {
    try {
      substituteText("x: ${missing}", {}, "ConfigMap/team/settings", "apps/kustomization.yaml");
      expect.unreachable();
    } catch (error) {
      expect(describeError(error)).toBe(
        "apps/kustomization.yaml: ConfigMap/team/settings: postBuild.substitute: variable 'missing' is not set and has no default (strict mode)",
      );
    }
  });

  it("rejects an invalid variable name", () => {
    expect(() => substituteText("${not-valid}", {})).toThrow(/not a valid variable reference/);
  });

  it("lets a substituted value change type, as Flux's text substitution does", () => {
    const obj: KubeObject = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web" },
      spec: { replicas: "${replicas}" },
    };
    expect(substituteObject(obj, { replicas: "3" }).spec).toEqual({ replicas: 3 });
  });

  it("leaves objects annotated or labelled substitute: disabled alone", () => {
    const annotated: KubeObject = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "a", annotations: { "kustomize.toolkit.fluxcd.io/substitute": "disabled" } },
      data: { x: "${nope}" },
    };
    const labelled: KubeObject = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "b", labels: { "kustomize.toolkit.fluxcd.io/substitute": "disabled" } },
      data: { x: "${nope}" },
    };
    expect(substituteObject(annotated, {})).toBe(annotated);
    expect(substituteObject(labelled, {})).toBe(labelled);
  });
});
