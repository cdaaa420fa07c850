import { describe, expect, it } from "vitest";
import { describeError } from "../../src/core/errors.js";
import { MemoryTree } from "../../src/core/file-tree.js";
import { render } from "../../src/render/index.js";

const VALUE = "hunter2-Zq9!";
const fail = (files: Record<string, string>): string => {
  try {
    render(new MemoryTree("repo", Object.entries(files)), "");
  } catch (error) {
    return describeError(error);
  }
  throw new Error("render succeeded");
};

describe("secretGenerator errors name the file, field or line and key, never the value", () => {
  it("a literal without '=' names the generator's literal by index, not its text", () => {
    const message = fail({
      "kustomization.yaml": `secretGenerator:\n- name: db\n  literals:\n  - user=admin\n  - ${VALUE}\n`,
    });
    expect(message).toBe(
      "kustomization.yaml: secretGenerator[0].literals[1]: the literal has no '=': expected KEY=value",
    );
    expect(message).not.toContain(VALUE);
  });

  it("a literal without a key says so without the value", () => {
    const message = fail({ "kustomization.yaml": `secretGenerator:\n- name: db\n  literals:\n  - =${VALUE}\n` });
    expect(message).toBe(
      "kustomization.yaml: secretGenerator[0].literals[0]: the literal has no key before '=': expected KEY=value",
    );
  });

  it("a key set twice names the key and where it came from, not either value", () => {
    const message = fail({
      "kustomization.yaml": `secretGenerator:\n- name: db\n  literals:\n  - password=first-${VALUE}\n  - password=${VALUE}\n`,
    });
    expect(message).toBe(
      "kustomization.yaml: secretGenerator[0]: key 'password' is set twice (from secretGenerator[0].literals[1])",
    );
    expect(message).not.toContain(VALUE);
  });
});
