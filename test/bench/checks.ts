/**
 * Every benchmark verifies what it measured and fails loudly: `check` for the output being right,
 * `goal` for a figure reaching its goal. `done()` prints what failed and throws, so `npm run bench`
 * exits non-zero (main.ts runs the other benchmarks first).
 */
export class BenchFailed extends Error {}

export class Checks {
  private readonly failures: string[] = [];

  constructor(private readonly bench: string) {}

  /** The output is right (a count, a status, a parsed result); a wrong one fails the bench. */
  check(ok: boolean, what: string): boolean {
    if (!ok) this.failures.push(`wrong output: ${what}`);
    return ok;
  }

  /** A figure reaches its goal; returns "met" or "MISSED" for the table, and a miss fails the bench. */
  goal(ok: boolean, what: string): "met" | "MISSED" {
    if (!ok) this.failures.push(`goal missed: ${what}`);
    return ok ? "met" : "MISSED";
  }

  /** Throws BenchFailed naming every failed check and missed goal. */
  done(): void {
    if (this.failures.length === 0) return;
    const text = `${this.bench}: ${this.failures.length} failure(s)\n${this.failures.map((f) => `  - ${f}`).join("\n")}`;
    process.stderr.write(`${text}\n`);
    throw new BenchFailed(text);
  }
}
