import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

/** The project root, from test/support or dist/test/support (benchmarks run from dist). */
export const PROJECT_ROOT = (() => {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, "package.json")) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
})();
