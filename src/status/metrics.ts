/**
 * Prometheus metrics in the text exposition format (0.0.4), named like Flux's `gotk_*` metrics:
 * `gotk_reconcile_duration_seconds` (a histogram per kind, name and namespace),
 * `gotk_reconcile_condition` (a gauge per object, condition type and status: 1 for the current
 * status) and `gotk_resource_info` (one series per object carrying its Ready status, suspension and
 * revision as labels, value 1, as Flux's kube-state-metrics configuration exposes it).
 */
export type Labels = Record<string, string>;

/** The Content-Type of the text exposition format. */
export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const DEFAULT_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

function escapeValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeValue(v)}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

/** Whether every label of `match` has the same value in `labels`. */
function matches(labels: Labels, match: Labels): boolean {
  return Object.entries(match).every(([k, v]) => labels[k] === v);
}

/** A number as Prometheus writes it (`+Inf`, `NaN`). */
function valueText(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
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
    if (!s) this.series.set(key, (s = { labels: { ...labels }, counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    for (let i = 0; i < this.buckets.length; i++) if (seconds <= this.buckets[i]!) s.counts[i]!++;
    s.sum += seconds;
    s.count++;
  }

  /** Removes every series whose labels include all of `match`. */
  remove(match: Labels): void {
    for (const [key, s] of this.series) if (matches(s.labels, match)) this.series.delete(key);
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const s of this.series.values()) {
      this.buckets.forEach((le, i) => lines.push(`${this.name}_bucket${labelText({ ...s.labels, le: String(le) })} ${s.counts[i]}`));
      lines.push(`${this.name}_bucket${labelText({ ...s.labels, le: "+Inf" })} ${s.count}`);
      lines.push(`${this.name}_sum${labelText(s.labels)} ${valueText(s.sum)}`, `${this.name}_count${labelText(s.labels)} ${s.count}`);
    }
    return lines.join("\n");
  }
}

export class Gauge {
  private readonly series = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  set(labels: Labels, value: number): void {
    this.series.set(labelText(labels), { labels: { ...labels }, value });
  }

  /** The value of the series with exactly these labels. */
  get(labels: Labels): number | undefined {
    return this.series.get(labelText(labels))?.value;
  }

  /** Removes every series whose labels include all of `match` (label by label, not by text). */
  remove(match: Labels): void {
    for (const [key, s] of this.series) if (matches(s.labels, match)) this.series.delete(key);
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`];
    for (const [labels, s] of this.series) lines.push(`${this.name}${labels} ${valueText(s.value)}`);
    return lines.join("\n");
  }
}

/** What `gotk_resource_info` carries besides the object and its Ready status. */
export interface ResourceInfo {
  suspended?: boolean;
  revision?: string;
}

/** The controller's metrics. */
export class Metrics {
  readonly reconcileDuration = new Histogram("gotk_reconcile_duration_seconds", "The duration in seconds of a reconciliation.");
  readonly condition = new Gauge("gotk_reconcile_condition", "The current condition status of a resource (1 for the matching status).");
  readonly info = new Gauge("gotk_resource_info", "The current state of a Flux resource: Ready status, suspension and revision as labels.");
  readonly ready = new Gauge("flotilla_ready", "1 when the object is Ready, 0 otherwise.");
  readonly renders = new Gauge("flotilla_render_cache", "Render cache entries, hits and misses.");

  /**
   * Records one object's Ready status as Flux does: one `gotk_reconcile_condition` series per status
   * value (1 for the current one), one `gotk_resource_info` series, and `flotilla_ready`.
   */
  recordReady(kind: string, namespace: string, name: string, status: "True" | "False" | "Unknown", info: ResourceInfo = {}): void {
    for (const s of ["True", "False", "Unknown"] as const) {
      this.condition.set({ kind, name, namespace, type: "Ready", status: s }, s === status ? 1 : 0);
    }
    this.info.remove({ kind, name, namespace });
    this.info.set({ kind, name, namespace, ready: status, suspended: String(info.suspended ?? false), revision: info.revision ?? "" }, 1);
    this.ready.set({ kind, name, namespace }, status === "True" ? 1 : 0);
  }

  /** Forgets a deleted object's series (its reconcile durations too). */
  forget(kind: string, namespace: string, name: string): void {
    for (const m of [this.condition, this.info, this.ready, this.reconcileDuration]) m.remove({ kind, name, namespace });
  }

  render(): string {
    return `${[this.reconcileDuration, this.condition, this.info, this.ready, this.renders].map((m) => m.render()).join("\n")}\n`;
  }
}
