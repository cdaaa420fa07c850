import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../src/core/errors.js";
import { parseYamlDocuments, toYaml } from "../../src/core/yaml.js";

describe("parseYamlDocuments", () => {
  it("returns each non-empty document with the line it starts on", () => {
    const docs = parseYamlDocuments("a: 1\n---\n---\n# comment\nb: 2\n", "f.yaml");
    expect(docs.map((d) => d.value)).toEqual([{ a: 1 }, { b: 2 }]);
    expect(docs[1]!.line).toBe(5);
  });

  it("names the file and line of malformed YAML", () => {
    try {
      parseYamlDocuments("a: 1\nb: [\n", "dir/bad.yaml");
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidInputError);
      expect((error as InvalidInputError).describe()).toMatch(/^dir\/bad\.yaml:\d+: malformed YAML/);
    }
  });

  it("rejects duplicate keys", () => {
    expect(() => parseYamlDocuments("a: 1\na: 2\n", "dup.yaml")).toThrow(
      expect.objectContaining({ location: { file: "dup.yaml", line: 2 } }),
    );
  });
});

describe("toYaml", () => {
  it("prints sequences unindented under their key, as kubectl does", () => {
    expect(toYaml({ spec: { containers: [{ name: "a" }] } })).toBe("spec:\n  containers:\n  - name: a\n");
  });
});
