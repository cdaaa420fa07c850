import { parse, validateDetailed, type ParsedFields } from "node-cron";
import { InvalidInputError, type ErrorLocation } from "../core/errors.js";

/**
 * A cron schedule evaluated in a time zone from an instant the caller gives, never from the
 * process clock. node-cron parses and validates the expression; its tasks only compute next runs
 * from `Date.now()`, so the occurrence search is ours, on Intl.DateTimeFormat's zone rules.
 *
 * Day rule: when both day-of-month and day-of-week are restricted, a day matches either of them
 * (Vixie cron, and Kubernetes CronJob through robfig/cron); otherwise it must match both.
 * DST: a wall time the change skips (02:30 on Berlin's spring-forward night) fires as if the clock
 * had not jumped (03:30 CEST); a wall time that happens twice fires once, at its first instant.
 */
export interface CronSchedule {
  readonly expression: string;
  readonly timeZone: string;
  /** The first occurrence strictly after `afterMs`, or undefined if none within `horizonDays`. */
  next(afterMs: number, horizonDays?: number): number | undefined;
  /** The last occurrence at or before `atMs`, looking back at most `lookbackMs`. */
  previous(atMs: number, lookbackMs: number): number | undefined;
}

const DAY_MS = 86_400_000;

/** Parses `expression` for `timeZone`; an invalid expression or zone is an error naming `location`. */
export function parseCron(
  expression: string,
  timeZone: string,
  where: { expression: ErrorLocation; timeZone: ErrorLocation },
): CronSchedule {
  const check = validateDetailed(expression);
  if (!check.valid) {
    const detail = check.errors
      .map((e) => (e.field === "expression" ? e.message : `${e.field}: ${e.message}`))
      .join("; ");
    throw new InvalidInputError(`'${expression}' is not a cron expression: ${detail}`, where.expression);
  }
  const zone = zoneOf(timeZone, where.timeZone);
  const fields = parse(expression);
  const raw = expression.trim().split(/\s+/);
  const [dom, dow] = raw.length === 6 ? [raw[3], raw[5]] : [raw[2], raw[4]];
  const restricted = (f: string | undefined) => f !== undefined && f !== "*" && f !== "?";
  const matcher = new DayMatcher(fields, restricted(dom) && restricted(dow));
  const times = timesOfDay(fields);

  /** The occurrences on one local date, ascending, as instants. */
  const onDate = (y: number, m: number, d: number): number[] =>
    matcher.matches(y, m, d) ? zone.instantsOn(y, m, d, times) : [];

  // Window evaluations ask for the same occurrences again and again (each chained opening, each
  // boundary search); the answers never change, so they are kept (bounded).
  const memo = new Map<string, number | undefined>();
  const remember = (key: string, compute: () => number | undefined): number | undefined => {
    if (memo.has(key)) return memo.get(key);
    const value = compute();
    if (memo.size >= 4096) memo.clear();
    memo.set(key, value);
    return value;
  };
  const schedule: CronSchedule = {
    expression,
    timeZone,
    next: (afterMs, horizonDays = 366 * 5) =>
      remember(`n${afterMs}:${horizonDays}`, () => nextAfter(afterMs, horizonDays)),
    previous: (atMs, lookbackMs) => remember(`p${atMs}:${lookbackMs}`, () => previousAt(atMs, lookbackMs)),
  };
  return schedule;

  function nextAfter(afterMs: number, horizonDays: number): number | undefined {
    let { year, month, day } = zone.partsOf(afterMs);
    for (let i = 0; i <= horizonDays; i++) {
      for (const t of onDate(year, month, day)) if (t > afterMs) return t;
      ({ year, month, day } = addDays(year, month, day, 1));
    }
    return undefined;
  }

  function previousAt(atMs: number, lookbackMs: number): number | undefined {
    let { year, month, day } = zone.partsOf(atMs);
    const days = Math.ceil(lookbackMs / DAY_MS) + 1;
    for (let i = 0; i <= days; i++) {
      const hits = onDate(year, month, day).filter((t) => t <= atMs && t >= atMs - lookbackMs);
      if (hits.length > 0) return hits[hits.length - 1];
      ({ year, month, day } = addDays(year, month, day, -1));
    }
    return undefined;
  }
}

/** The seconds of a day (local wall clock) at which the schedule fires, ascending. */
function timesOfDay(f: ParsedFields): number[] {
  const out: number[] = [];
  for (const h of [...f.hour].sort((a, b) => a - b))
    for (const m of [...f.minute].sort((a, b) => a - b))
      for (const s of [...f.second].sort((a, b) => a - b)) out.push(h * 3600 + m * 60 + s);
  return out;
}

class DayMatcher {
  constructor(
    private readonly f: ParsedFields,
    private readonly either: boolean,
  ) {}

  matches(y: number, m: number, d: number): boolean {
    if (!this.f.month.includes(m)) return false;
    const byDom = this.f.dayOfMonth.some((v) => matchesDayOfMonth(v, y, m, d));
    const byDow = this.f.dayOfWeek.some((v) => matchesDayOfWeek(v, y, m, d));
    return this.either ? byDom || byDow : byDom && byDow;
  }
}

const daysInMonth = (y: number, m: number) => new Date(Date.UTC(y, m, 0)).getUTCDate();
const weekdayOf = (y: number, m: number, d: number) => new Date(Date.UTC(y, m - 1, d)).getUTCDay();

function matchesDayOfMonth(v: number | string, y: number, m: number, d: number): boolean {
  if (typeof v === "number") return v === d;
  if (v.toUpperCase() === "L") return d === daysInMonth(y, m);
  return false;
}

function matchesDayOfWeek(v: number | string, y: number, m: number, d: number): boolean {
  const wd = weekdayOf(y, m, d);
  if (typeof v === "number") return v % 7 === wd;
  const last = /^([0-7])L$/i.exec(v);
  if (last) return Number(last[1]) % 7 === wd && d + 7 > daysInMonth(y, m);
  const nth = /^([0-7])#([1-5])$/.exec(v);
  if (nth) return Number(nth[1]) % 7 === wd && Math.floor((d - 1) / 7) + 1 === Number(nth[2]);
  return false;
}

function addDays(year: number, month: number, day: number, n: number): { year: number; month: number; day: number } {
  const t = new Date(Date.UTC(year, month - 1, day + n));
  return { year: t.getUTCFullYear(), month: t.getUTCMonth() + 1, day: t.getUTCDate() };
}

interface Zone {
  partsOf(ms: number): { year: number; month: number; day: number; hour: number; minute: number; second: number };
  /** The instants of local wall times (seconds into the day, ascending) on a local date. */
  instantsOn(year: number, month: number, day: number, secondsOfDay: readonly number[]): number[];
}

const zones = new Map<string, Zone>();

function zoneOf(timeZone: string, where: ErrorLocation): Zone {
  const cached = zones.get(timeZone);
  if (cached) return cached;
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
  } catch {
    throw new InvalidInputError(
      `'${timeZone}' is not an IANA time zone (examples: UTC, Europe/Berlin, America/New_York)`,
      where,
    );
  }
  const partsOf = (ms: number) => {
    const p: Record<string, number> = {};
    for (const part of format.formatToParts(new Date(ms)))
      if (part.type !== "literal") p[part.type] = Number(part.value);
    return { year: p.year!, month: p.month!, day: p.day!, hour: p.hour!, minute: p.minute!, second: p.second! };
  };
  /** Milliseconds the zone is ahead of UTC at instant `ms`. */
  const offsetAt = (ms: number) => {
    const p = partsOf(ms);
    return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(ms / 1000) * 1000;
  };
  const zone: Zone = {
    partsOf,
    instantsOn(year, month, day, secondsOfDay) {
      const midnight = Date.UTC(year, month - 1, day);
      // The offsets in force a day either side cover any single DST change of that day; on the
      // days without one (nearly all), every wall time is one subtraction away.
      const before = offsetAt(midnight - DAY_MS);
      const after = offsetAt(midnight + 2 * DAY_MS);
      if (before === after && offsetAt(midnight + DAY_MS / 2) === before)
        return secondsOfDay.map((s) => midnight + s * 1000 - before);
      return secondsOfDay.map((s) => toInstant(midnight + s * 1000, before, after));
    },
  };
  /** The instant of a wall time on a day the offset changes from `before` to `after`. */
  const toInstant = (wall: number, before: number, after: number): number => {
    const early = wall - before;
    const late = wall - after;
    const first = Math.min(early, late);
    const second = Math.max(early, late);
    if (offsetAt(first) === wall - first) return first; // exists (the first instant when repeated)
    if (offsetAt(second) === wall - second) return second;
    return wall - before; // skipped by the change: as if the clock had not jumped
  };
  zones.set(timeZone, zone);
  return zone;
}
