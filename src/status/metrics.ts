/**
 * Prometheus metrics in the text exposition format, named like Flux's `gotk_*` metrics:
 * `gotk_reconcile_duration_seconds` (histogram) and `gotk_resource_info` / `gotk_reconcile_condition`
 * (a gauge per object and condition status).
 */
type Labels = Record<string, string>;

const DEFAULT_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

export class Histogram {
  private readonly series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly buckets: number[] = DEFAULT_BUCKETS,
  ) {}

  observe(labels: Labels, seconds: number): void {
    const key = labelText(labels);
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    for (let i = 0; i < this.buckets.length; i++) if (seconds <= this.buckets[i]!) s.counts[i]!++;
    s.sum += seconds;
    s.count++;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const s of this.series.values()) {
      this.buckets.forEach((le, i) => lines.push(`${this.name}_bucket${labelText({ ...s.labels, le: String(le) })} ${s.counts[i]}`));
      lines.push(`${this.name}_bucket${labelText({ ...s.labels, le: "+Inf" })} ${s.count}`);
      lines.push(`${this.name}_sum${labelText(s.labels)} ${s.sum}`, `${this.name}_count${labelText(s.labels)} ${s.count}`);
    }
    return lines.join("\n");
  }
}

export class Gauge {
  private readonly series = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  set(labels: Labels, value: number): void {
    this.series.set(labelText(labels), value);
  }

  /** Removes every series whose labels include all of `match`. */
  remove(match: Labels): void {
    const needles = Object.entries(match).map(([k, v]) => labelText({ [k]: v }).slice(1, -1));
    for (const key of this.series.keys()) if (needles.every((n) => key.includes(n))) this.series.delete(key);
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`];
    for (const [labels, value] of this.series) lines.push(`${this.name}${labels} ${value}`);
    return lines.join("\n");
  }
}

/** The controller's metrics. */
export class Metrics {
  readonly reconcileDuration = new Histogram("gotk_reconcile_duration_seconds", "The duration in seconds of a reconciliation.");
  readonly condition = new Gauge("gotk_reconcile_condition", "The current condition status of a resource (1 for the matching status).");
  readonly ready = new Gauge("flotilla_ready", "1 when the object is Ready, 0 otherwise.");
  readonly renders = new Gauge("flotilla_render_cache", "Render cache entries, hits and misses.");

  /** Records one object's Ready status as Flux does: one series per status value, 1 for the current one. */
  recordReady(kind: string, namespace: string, name: string, status: "True" | "False" | "Unknown"): void {
    for (const s of ["True", "False", "Unknown"] as const) {
      this.condition.set({ kind, name, namespace, type: "Ready", status: s }, s === status ? 1 : 0);
    }
    this.ready.set({ kind, name, namespace }, status === "True" ? 1 : 0);
  }

  /** Forgets a deleted object's series. */
  forget(kind: string, namespace: string, name: string): void {
    this.condition.remove({ kind, name, namespace });
    this.ready.remove({ kind, name, namespace });
  }

  render(): string {
    return `${[this.reconcileDuration, this.condition, this.ready, this.renders].map((m) => m.render()).join("\n")}\n`;
  }
}
