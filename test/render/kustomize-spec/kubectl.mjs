// What `kubectl kustomize` makes of one converted case: shared by regenerate.mjs and the
// spec test's re-render check, so both ask kubectl the same way.
import { execFile } from "node:child_process";
import { resolve } from "node:path";

/**
 * Runs `kubectl kustomize <build>` from the case's `in/` folder. Resolves to
 * `{ ok: true, output }` or `{ ok: false, error }`, where the error is kubectl's stderr with the
 * case's absolute path taken out (so the text is the same on every machine).
 * @param {string} caseDir
 * @param {string} build the folder to build, relative to `in/` ("" is `in/` itself)
 * @param {string[]} [flags] kubectl flags the case needs (`kubectlFlags` in case.json)
 * @returns {Promise<{ ok: true, output: string } | { ok: false, error: string }>}
 */
export function kubectlKustomize(caseDir, build, flags = []) {
  const inDir = resolve(caseDir, "in");
  return new Promise((done, fail) => {
    execFile(
      "kubectl",
      ["kustomize", ...flags, build || "."],
      { cwd: inDir, encoding: "utf8", maxBuffer: 64 << 20, timeout: 60_000 },
      (error, stdout, stderr) => {
        if (error && error.code === "ENOENT") return fail(new Error("kubectl is not on PATH"));
        if (!error) return done({ ok: true, output: stdout });
        if (!stderr)
          return fail(new Error(`kubectl kustomize ${build || "."} in ${inDir} gave no error text: ${error.message}`));
        // Go prints pointers in some errors (&{0xc0001c9a40 <nil>}): not the same twice.
        const text = errorText(String(stderr))
          .split(`${inDir}/`)
          .join("")
          .split(inDir)
          .join(".")
          .replace(/0x[0-9a-f]{6,}/g, "0x…");
        done({ ok: false, error: text });
      },
    );
  });
}

/**
 * kubectl's error without its log prefix and deprecation warnings: the `err` field of
 * `E1206 … run.go:72] "command failed" err="…"` (quoted, or `err=<` … `>` on several lines).
 * @param {string} stderr
 */
function errorText(stderr) {
  const lines = stderr.split("\n").filter((l) => !l.startsWith("# Warning:"));
  const text = lines.join("\n");
  const quoted = /"command failed" err="((?:[^"\\]|\\.)*)"/.exec(text);
  if (quoted) return JSON.parse(`"${quoted[1]}"`).trim();
  const block = /"command failed" err=<\n([\s\S]*?)\n\s*>/.exec(text);
  if (block)
    return block[1]
      .split("\n")
      .map((l) => l.replace(/^\t/, ""))
      .join("\n")
      .trim();
  return text.replace(/^error: /, "").trim();
}
