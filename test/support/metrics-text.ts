/** One scrape of `/metrics` (Prometheus text), read back for assertions and benchmarks: series values by name and labels. */
export class Scrape {
  private readonly series: Array<{ name: string; labels: Record<string, string>; value: number }> = [];

  constructor(text: string) {
    for (const line of text.split("\n")) {
      const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!m) continue;
      const labels: Record<string, string> = {};
      for (const l of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
      this.series.push({ name: m[1]!, labels, value: Number(m[3]) });
    }
  }

  /** The sum of the series of `name` whose labels include `match`. */
  sum(name: string, match: Record<string, string> = {}): number {
    let total = 0;
    for (const s of this.series)
      if (s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)) total += s.value;
    return total;
  }
}
