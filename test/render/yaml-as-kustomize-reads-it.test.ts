import { describe, expect, it } from "vitest";
import { parseYamlDocument, parseYamlDocuments, toYaml } from "../../src/core/yaml.js";

/** Scalars as kustomize's Go YAML readers take them (verified with kubectl kustomize v5.5). */
describe("YAML read as kustomize reads it", () => {
  it("reads Go integers: leading-zero octal file modes, 0o, 0b, 0x and digit separators", () => {
    const doc = parseYamlDocument(
      "a: 0644\nb: 0o640\nc: 0b101\nd: 0x1F\ne: 1_000_000\nf: -0_7\ng: 08\nh: 0\ni: '0644'",
      "f.yaml",
    );
    expect(doc).toEqual({ a: 420, b: 416, c: 5, d: 31, e: 1000000, f: -7, g: 8, h: 0, i: "0644" });
  });

  it("keeps YAML 1.1 words such as yes/on/y as strings", () => {
    expect(parseYamlDocument("a: yes\nb: on\nc: y\nd: True", "f.yaml")).toEqual({ a: "yes", b: "on", c: "y", d: true });
  });

  it("turns unquoted timestamps in resource files into RFC 3339 text, and leaves them alone elsewhere", () => {
    const text =
      "a: 2024-06-01\nb: 2001-12-14t21:59:43.10-05:00\nc: 2001-12-14 21:59:43\nd: 2024-06-01T10:00:00+00:00\ne: '2024-06-01'";
    expect(parseYamlDocuments(text, "r.yaml", { manifest: true })[0]!.value).toEqual({
      a: "2024-06-01T00:00:00Z",
      b: "2001-12-14T21:59:43.1-05:00",
      c: "2001-12-14T21:59:43Z",
      d: "2024-06-01T10:00:00Z",
      e: "2024-06-01",
    });
    expect(parseYamlDocument(text, "patch.yaml")).toMatchObject({ a: "2024-06-01" });
  });

  it("expands merge keys and gives every alias its own copy", () => {
    const doc = parseYamlDocument("base: &b {x: 1, l: [1]}\nother:\n  <<: *b\n  y: 2\nsame: *b", "f.yaml") as Record<
      string,
      Record<string, unknown>
    >;
    expect(doc.other).toEqual({ x: 1, l: [1], y: 2 });
    expect(doc.same).toEqual(doc.base);
    expect(doc.same).not.toBe(doc.base);
    expect(doc.other!.l).not.toBe(doc.base!.l);
  });

  it("writes strings that Go would read as numbers or timestamps quoted, so they read back as strings", () => {
    const value = {
      a: ["1_000", "0_10", "0640", "08", "0o17", "0x1F", "+12", "2024-01-01", "yes", "<<"],
      "<<": 1,
      n: [12, -5, 1.5],
    };
    expect(parseYamlDocument(toYaml(value), "out.yaml")).toEqual(value);
  });
});
