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

/** The object a series is about, when its labels name one (`kind`, `namespace`, `name`). */
function objectKey(labels: Labels): string | undefined {
  const { kind, namespace, name } = labels;
  return kind !== undefined && namespace !== undefined && name !== undefined
    ? `${kind}\u0000${namespace}\u0000${name}`
    : undefined;
}

/**
 * Series by their label text, with an index by object so that forgetting one object of thousands
 * does not scan every series.
 */
class SeriesMap<S extends { labels: Labels }> {
  readonly byKey = new Map<string, S>();
  private readonly byObject = new Map<string, Set<string>>();

  get(key: string): S | undefined {
    return this.byKey.get(key);
  }

  set(key: string, series: S): void {
    this.byKey.set(key, series);
    const o = objectKey(series.labels);
    if (o === undefined) return;
    let keys = this.byObject.get(o);
    if (!keys) this.byObject.set(o, (keys = new Set()));
    keys.add(key);
  }

  /** Removes every series whose labels include all of `match` (label by label, not by text). */
  remove(match: Labels): void {
    const o = objectKey(match);
    const candidates = o === undefined ? [...this.byKey.keys()] : [...(this.byObject.get(o) ?? [])];
    for (const key of candidates) {
      const series = this.byKey.get(key);
      if (!series || !matches(series.labels, match)) continue;
      this.byKey.delete(key);
      const own = objectKey(series.labels);
      if (own === undefined) continue;
      const keys = this.byObject.get(own)!;
      keys.delete(key);
      if (keys.size === 0) this.byObject.delete(own);
    }
  }
}

/** A number as Prometheus writes it (`+Inf`, `NaN`). */
function valueText(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

export class Histogram {
  private readonly series = new SeriesMap<{ labels: Labels; counts: number[]; sum: number; count: number }>();
  private readonly le: string[];
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly buckets: number[] = DEFAULT_BUCKETS,
  ) {
    this.le = [...buckets.map(String), "+Inf"];
  }

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
    this.series.remove(match);
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    const bucket = `${this.name}_bucket`;
    for (const [key, s] of this.series.byKey) {
      // The series' label text without its closing brace, so each bucket only appends `le`.
      const open = key === "" ? "{" : `${key.slice(0, -1)},`;
      for (let i = 0; i < this.le.length; i++)
        lines.push(`${bucket}${open}le="${this.le[i]}"} ${i < s.counts.length ? s.counts[i] : s.count}`);
      lines.push(`${this.name}_sum${key} ${valueText(s.sum)}`, `${this.name}_count${key} ${s.count}`);
    }
    return lines.join("\n");
  }
}

export class Gauge {
  private readonly series = new SeriesMap<{ labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    /** `counter` for a series that only grows through `add` (named `*_total`). */
    private readonly type: "gauge" | "counter" = "gauge",
  ) {}

  /** Adds `delta` to the series with these labels (from 0). */
  add(labels: Labels, delta: number): void {
    this.set(labels, (this.get(labels) ?? 0) + delta);
  }

  set(labels: Labels, value: number): void {
    const key = labelText(labels);
    const current = this.series.get(key);
    if (current) current.value = value;
    else this.series.set(key, { labels: { ...labels }, value });
  }

  /** The value of the series with exactly these labels. */
  get(labels: Labels): number | undefined {
    return this.series.get(labelText(labels))?.value;
  }

  /** Removes every series whose labels include all of `match` (label by label, not by text). */
  remove(match: Labels): void {
    this.series.remove(match);
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    for (const [labels, s] of this.series.byKey) lines.push(`${this.name}${labels} ${valueText(s.value)}`);
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
  readonly reconcileDuration = new Histogram(
    "gotk_reconcile_duration_seconds",
    "The duration in seconds of a reconciliation.",
  );
  readonly condition = new Gauge(
    "gotk_reconcile_condition",
    "The current condition status of a resource (1 for the matching status).",
  );
  readonly info = new Gauge(
    "gotk_resource_info",
    "The current state of a Flux resource: Ready status, suspension and revision as labels.",
  );
  readonly ready = new Gauge("flotilla_ready", "1 when the object is Ready, 0 otherwise.");
  readonly renders = new Gauge("flotilla_render_cache", "Render cache entries, hits and misses.");
  /** Per replica (`--lease-namespace`): the workload clusters whose Lease it holds, the live members it sees, its queue, and Leases moved since start. */
  readonly replicaClusters = new Gauge("flotilla_replica_clusters", "Clusters whose Lease this replica holds.");
  readonly replicaMembers = new Gauge(
    "flotilla_replica_members",
    "Live replicas this replica sees (membership Leases).",
  );
  readonly replicaQueueDepth = new Gauge("flotilla_replica_queue_depth", "Reconciles waiting in this replica's queue.");
  readonly replicaMoves = new Gauge(
    "flotilla_replica_moves",
    "Cluster Leases this replica acquired, released and lost since it started, by direction.",
  );
  readonly unitReconciles = new Gauge(
    "flotilla_unit_reconciles_total",
    "Kustomization reconciles that succeeded, by outcome: applied (a full apply) or unchanged (inputs unchanged: revision recorded, cluster not contacted).",
    "counter",
  );
  readonly stepSeconds = new Gauge(
    "flotilla_reconcile_step_seconds_total",
    "Seconds Kustomization reconciles spent waiting on each step (render, apply, status writes on the management cluster), summed over concurrent reconciles.",
    "counter",
  );
  /** Requests sent, by the cluster they went to (the management cluster, or workload clusters summed) and verb. */
  readonly kubeRequests = new Gauge(
    "flotilla_kube_requests_total",
    "Requests the controller sent to Kubernetes apiservers, by target (management, or every workload cluster summed) and verb.",
    "counter",
  );
  readonly queue = new Gauge(
    "flotilla_workqueue",
    "Reconciles waiting (queued), running (processing) and scheduled for later (scheduled).",
  );
  /** The process, as Prometheus clients name these: resident memory, CPU, and V8's heap and off-heap buffers. */
  readonly processMemory = new Gauge("process_resident_memory_bytes", "Resident memory size in bytes.");
  readonly processCpu = new Gauge(
    "process_cpu_seconds_total",
    "Total user and system CPU time spent in seconds.",
    "counter",
  );
  readonly heap = new Gauge(
    "nodejs_heap_bytes",
    "The main thread's V8 heap (used, total) and memory outside it (external, arrayBuffers), in bytes.",
  );
  private readonly collectors: Array<() => void> = [() => this.collectProcess()];

  private collectProcess(): void {
    const memory = process.memoryUsage();
    this.processMemory.set({}, memory.rss);
    const cpu = process.cpuUsage();
    this.processCpu.set({}, (cpu.user + cpu.system) / 1e6);
    this.heap.set({ space: "used" }, memory.heapUsed);
    this.heap.set({ space: "total" }, memory.heapTotal);
    this.heap.set({ space: "external" }, memory.external);
    this.heap.set({ space: "arrayBuffers" }, memory.arrayBuffers);
  }

  /** Runs `collect` before each scrape, to copy figures kept elsewhere (request counts, the queue) into gauges. */
  onCollect(collect: () => void): void {
    this.collectors.push(collect);
  }

  /**
   * Records one object's Ready status as Flux does: one `gotk_reconcile_condition` series per status
   * value (1 for the current one), one `gotk_resource_info` series, and `flotilla_ready`.
   */
  recordReady(
    kind: string,
    namespace: string,
    name: string,
    status: "True" | "False" | "Unknown",
    info: ResourceInfo = {},
  ): void {
    for (const s of ["True", "False", "Unknown"] as const) {
      this.condition.set({ kind, name, namespace, type: "Ready", status: s }, s === status ? 1 : 0);
    }
    this.info.remove({ kind, name, namespace });
    this.info.set(
      {
        kind,
        name,
        namespace,
        ready: status,
        suspended: String(info.suspended ?? false),
        revision: info.revision ?? "",
      },
      1,
    );
    this.ready.set({ kind, name, namespace }, status === "True" ? 1 : 0);
  }

  /** Forgets a deleted object's series (its reconcile durations too). */
  forget(kind: string, namespace: string, name: string): void {
    for (const m of [this.condition, this.info, this.ready, this.reconcileDuration])
      m.remove({ kind, name, namespace });
  }

  /** The replica gauges, once this process runs as a replica. */
  private replicaGauges(): Gauge[] {
    const gauges = [this.replicaClusters, this.replicaMembers, this.replicaQueueDepth, this.replicaMoves];
    return this.replicaClusters.render().split("\n").length > 2 ? gauges : [];
  }

  render(): string {
    for (const collect of this.collectors) collect();
    const all = [
      this.reconcileDuration,
      this.condition,
      this.info,
      this.ready,
      this.renders,
      this.unitReconciles,
      this.stepSeconds,
      this.kubeRequests,
      this.queue,
      this.processMemory,
      this.processCpu,
      this.heap,
      ...this.replicaGauges(),
    ];
    return `${all.map((m) => m.render()).join("\n")}\n`;
  }
}
