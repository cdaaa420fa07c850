import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/dispatch.js";
import { capture } from "../support/capture-output.js";

describe("flotilla COMMAND --help", () => {
  it("prints the command's usage and exits 0 instead of 'Unknown option'", async () => {
    const { code, out, err } = await capture(() => main(["up", "--help"]));
    expect(err).toBe("");
    expect(code).toBe(0);
    expect(out).toMatch(/^usage: flotilla up \[--repo DIR\|URL\] .*\[--once\] \[--timeout 10m\]/);
  });

  it("answers -h for every command without running it", async () => {
    for (const command of [
      "render",
      "diff",
      "release-notes",
      "lint-commits",
      "promote",
      "controller",
      "up",
      "plan",
      "status",
    ]) {
      const { code, out } = await capture(() => main([command, "-h"]));
      expect(code, command).toBe(0);
      expect(out, command).toContain(`usage: flotilla ${command}`);
    }
  });

  it("still refuses an unknown option", async () => {
    const { code, err } = await capture(() => main(["plan", "--nope"]));
    expect(code).toBe(2);
    expect(err).toContain("Unknown option '--nope'");
  });
});
