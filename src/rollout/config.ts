import { parseDuration } from "../core/duration.js";
import { InvalidInputError, type ErrorLocation } from "../core/errors.js";
import { isPlainObject } from "../core/object.js";
import { parseCron } from "./cron.js";
import type { ClusterSelector } from "./selector.js";
import type { WindowGate, WindowSpec } from "./windows.js";

/** One wave: which clusters, how many at once, how long to soak, whether a person approves it. */
export interface WaveSpec {
  name: string;
  /** Unset: the wave takes every cluster no earlier wave took. */
  clusters?: ClusterSelector;
  /** At most this many of the wave's clusters change at once; unset: all. */
  maxConcurrent?: { count: number } | { percent: number };
  soakMs: number;
  approval: "auto" | "manual";
}

/** How an environment's new revisions reach its clusters. */
export interface RolloutSpec {
  waves: WaveSpec[];
  onFailure: "halt" | "rollback";
}

/** `file` and `object` of every error; `field` is appended per key. */
type Where = Omit<ErrorLocation, "field">;

const fail = (message: string, where: Where, field: string): never => {
  throw new InvalidInputError(message, { ...where, field });
};
const map = (v: unknown, where: Where, field: string): Record<string, unknown> =>
  isPlainObject(v) ? v : fail("must be a map", where, field);
const str = (v: unknown, where: Where, field: string): string =>
  typeof v === "string" && v !== "" ? v : fail("must be a non-empty string", where, field);
const list = (v: unknown, where: Where, field: string): unknown[] =>
  Array.isArray(v) ? v : fail("must be a list", where, field);
const checkKeys = (v: Record<string, unknown>, allowed: string[], where: Where, field: string) => {
  for (const key of Object.keys(v))
    if (!allowed.includes(key)) fail(`unknown key '${key}' (known: ${allowed.join(", ")})`, where, `${field}.${key}`);
};

/** A LabelSelector with matchLabels and matchExpressions. */
export function parseSelector(v: unknown, where: Where, field: string): ClusterSelector {
  const m = map(v, where, field);
  checkKeys(m, ["matchLabels", "matchExpressions"], where, field);
  const out: ClusterSelector = {};
  if (m.matchLabels !== undefined) {
    out.matchLabels = {};
    for (const [k, value] of Object.entries(map(m.matchLabels, where, `${field}.matchLabels`)))
      out.matchLabels[k] = str(value, where, `${field}.matchLabels.${k}`);
  }
  if (m.matchExpressions !== undefined) {
    out.matchExpressions = list(m.matchExpressions, where, `${field}.matchExpressions`).map((e, i) => {
      const f = `${field}.matchExpressions[${i}]`;
      const x = map(e, where, f);
      checkKeys(x, ["key", "operator", "values"], where, f);
      const operator = x.operator;
      if (operator !== "In" && operator !== "NotIn" && operator !== "Exists" && operator !== "DoesNotExist")
        fail(`must be In, NotIn, Exists or DoesNotExist`, where, `${f}.operator`);
      const values =
        x.values === undefined
          ? undefined
          : list(x.values, where, `${f}.values`).map((s, j) => str(s, where, `${f}.values[${j}]`));
      return { key: str(x.key, where, `${f}.key`), operator: operator as "In", ...(values ? { values } : {}) };
    });
  }
  return out;
}

function maxConcurrent(v: unknown, where: Where, field: string): WaveSpec["maxConcurrent"] {
  if (typeof v === "number" && Number.isInteger(v) && v >= 1) return { count: v };
  const percent = typeof v === "string" ? /^(\d{1,3})%$/.exec(v) : null;
  if (percent && Number(percent[1]) >= 1 && Number(percent[1]) <= 100) return { percent: Number(percent[1]) };
  return fail(`must be a count of at least 1 or a percentage from 1% to 100%, not '${String(v)}'`, where, field);
}

/** One environment's rollout (`rollouts.<env>` in flotilla.yaml, or a Rollout's `spec`). */
export function parseRolloutSpec(v: unknown, where: Where, field: string, extraKeys: string[] = []): RolloutSpec {
  const m = map(v, where, field);
  checkKeys(m, ["waves", "onFailure", ...extraKeys], where, field);
  const onFailure = m.onFailure ?? "halt";
  if (onFailure !== "halt" && onFailure !== "rollback")
    fail(`must be halt or rollback, not '${String(onFailure)}'`, where, `${field}.onFailure`);
  const waves = list(m.waves, where, `${field}.waves`).map((w, i) => {
    const f = `${field}.waves[${i}]`;
    const x = map(w, where, f);
    checkKeys(x, ["name", "clusters", "maxConcurrent", "soak", "approval"], where, f);
    const approval = x.approval ?? "auto";
    if (approval !== "auto" && approval !== "manual")
      fail(`must be auto or manual, not '${String(approval)}'`, where, `${f}.approval`);
    const wave: WaveSpec = {
      name: str(x.name, where, `${f}.name`),
      soakMs:
        x.soak === undefined ? 0 : parseDuration(str(x.soak, where, `${f}.soak`), { ...where, field: `${f}.soak` }),
      approval: approval as "auto" | "manual",
    };
    if (x.clusters !== undefined) wave.clusters = parseSelector(x.clusters, where, `${f}.clusters`);
    if (x.maxConcurrent !== undefined) wave.maxConcurrent = maxConcurrent(x.maxConcurrent, where, `${f}.maxConcurrent`);
    return wave;
  });
  if (waves.length === 0) fail("needs at least one wave", where, `${field}.waves`);
  const seen = new Set<string>();
  waves.forEach((w, i) => {
    if (seen.has(w.name)) fail(`wave name '${w.name}' is used twice`, where, `${field}.waves[${i}].name`);
    seen.add(w.name);
  });
  return { waves, onFailure: onFailure as "halt" | "rollback" };
}

const GATES: WindowGate[] = ["revision", "prune", "drift"];

/** `windows[]`: cron schedule (node-cron syntax), duration, IANA time zone (default UTC), allow or deny. */
export function parseWindows(v: unknown, where: Where, field: string): WindowSpec[] {
  return list(v, where, field).map((w, i) => {
    const f = `${field}[${i}]`;
    const x = map(w, where, f);
    checkKeys(x, ["kind", "schedule", "duration", "timeZone", "clusters", "gates"], where, f);
    const kind = x.kind ?? "allow";
    if (kind !== "allow" && kind !== "deny") fail(`must be allow or deny, not '${String(kind)}'`, where, `${f}.kind`);
    const timeZone = x.timeZone === undefined ? "UTC" : str(x.timeZone, where, `${f}.timeZone`);
    const schedule = parseCron(str(x.schedule, where, `${f}.schedule`), timeZone, {
      expression: { ...where, field: `${f}.schedule` },
      timeZone: { ...where, field: `${f}.timeZone` },
    });
    const durationMs = parseDuration(str(x.duration, where, `${f}.duration`), { ...where, field: `${f}.duration` });
    if (durationMs <= 0) fail("must be longer than 0s", where, `${f}.duration`);
    const gates =
      x.gates === undefined
        ? ["revision", "prune"]
        : list(x.gates, where, `${f}.gates`).map((g, j) =>
            GATES.includes(g as WindowGate)
              ? g
              : fail(`must be one of ${GATES.join(", ")}, not '${String(g)}'`, where, `${f}.gates[${j}]`),
          );
    const spec: WindowSpec = { kind: kind as "allow" | "deny", schedule, durationMs, gates: gates as WindowGate[] };
    if (x.clusters !== undefined) spec.clusters = parseSelector(x.clusters, where, `${f}.clusters`);
    return spec;
  });
}
