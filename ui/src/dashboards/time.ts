// The dashboard's time range in Grafana's terms: `from=now-6h&to=now` (date math with
// rounding such as `now/d`), or Unix milliseconds, or an ISO date.
import { dateTime, parseDateTime } from "../timezone";

export interface TimeRange {
  /** As written in the URL / dashboard JSON ("now-6h", "1700000000000"). */
  raw: { from: string; to: string };
  /** Resolved, Unix milliseconds. */
  from: number;
  to: number;
}

export const QUICK_RANGES: [string, string][] = [
  ["now-5m", "Last 5 minutes"],
  ["now-15m", "Last 15 minutes"],
  ["now-1h", "Last 1 hour"],
  ["now-6h", "Last 6 hours"],
  ["now-12h", "Last 12 hours"],
  ["now-24h", "Last 24 hours"],
  ["now-2d", "Last 2 days"],
  ["now-7d", "Last 7 days"],
];

export const REFRESH_CHOICES = ["", "10s", "30s", "1m", "5m"];

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * Unix ms for a Grafana time expression; `roundUp` rounds `/unit` to the unit's end (for
 * `to`). Null when the text is not a time.
 */
export function parseTime(text: string, now: number, roundUp = false): number | null {
  const s = text.trim();
  if (/^\d{9,}$/.test(s)) return parseInt(s, 10);
  if (!s.startsWith("now")) {
    const t = parseDateTime(s) ?? Date.parse(s);
    return Number.isFinite(t) ? t : null;
  }
  const re = /([+-])(\d+)([smhdwMy])|\/([smhdwMy])/y;
  let date = new Date(now);
  let i = 3;
  while (i < s.length) {
    re.lastIndex = i;
    const m = re.exec(s);
    if (!m) return null;
    i = re.lastIndex;
    if (m[4]) date = roundTo(date, m[4], roundUp);
    else date = add(date, (m[1] === "-" ? -1 : 1) * parseInt(m[2], 10), m[3]);
  }
  return date.getTime();
}

function add(date: Date, n: number, unit: string): Date {
  const d = new Date(date.getTime());
  if (unit === "M") d.setMonth(d.getMonth() + n);
  else if (unit === "y") d.setFullYear(d.getFullYear() + n);
  else d.setTime(d.getTime() + n * UNIT_MS[unit]);
  return d;
}

function roundTo(date: Date, unit: string, up: boolean): Date {
  const d = new Date(date.getTime());
  switch (unit) {
    case "y": d.setMonth(0, 1); d.setHours(0, 0, 0, 0); break;
    case "M": d.setDate(1); d.setHours(0, 0, 0, 0); break;
    case "w": d.setDate(d.getDate() - d.getDay()); d.setHours(0, 0, 0, 0); break;
    case "d": d.setHours(0, 0, 0, 0); break;
    case "h": d.setMinutes(0, 0, 0); break;
    case "m": d.setSeconds(0, 0); break;
    case "s": d.setMilliseconds(0); break;
  }
  if (!up) return d;
  const next = unit === "y" || unit === "M" ? add(d, 1, unit) : new Date(d.getTime() + UNIT_MS[unit]);
  return new Date(next.getTime() - 1);
}

/** The range from URL params, else the dashboard's `time`, else the last 6 hours. */
export function resolveRange(from: string, to: string, now: number = Date.now()): TimeRange {
  let f = parseTime(from, now, false);
  let t = parseTime(to, now, true);
  if (f === null || t === null || f >= t) {
    from = "now-6h";
    to = "now";
    f = now - 6 * 3_600_000;
    t = now;
  }
  return { raw: { from, to }, from: f, to: t };
}

/** A short description of the range for the picker ("Last 6 hours", or the two times). */
export function describeRange(range: TimeRange): string {
  if (range.raw.to === "now") {
    const quick = QUICK_RANGES.find(([f]) => f === range.raw.from);
    if (quick) return quick[1];
    if (range.raw.from.startsWith("now-")) return `Last ${range.raw.from.slice(4)}`;
  }
  return `${dateTime(range.from)} to ${dateTime(range.to)}`;
}


/** A span as date math ("now-90m"): the largest unit that divides it, else seconds. */
function lastSpan(ms: number): string {
  for (const unit of ["w", "d", "h", "m"]) if (ms % UNIT_MS[unit] === 0) return `now-${ms / UNIT_MS[unit]}${unit}`;
  return `now-${Math.max(1, Math.round(ms / 1000))}s`;
}

/**
 * A range from `from` to `to` (Unix ms) as written in the URL; one reaching past now becomes
 * the same span up to now, relative ("now-2h" to "now"), so it keeps moving with the clock.
 */
export function rangeOf(from: number, to: number, now: number): { from: string; to: string } {
  if (to >= now) return { from: lastSpan(Math.max(1000, Math.round(to - from))), to: "now" };
  return { from: String(Math.round(from)), to: String(Math.round(to)) };
}

/** Grafana's zoom out: `factor` times the span around the same centre. */
export function zoomOut(range: TimeRange, now: number, factor = 2): { from: string; to: string } {
  const span = range.to - range.from;
  const centre = range.from + span / 2;
  return rangeOf(centre - (span * factor) / 2, centre + (span * factor) / 2, now);
}

/** Grafana's time shift: half the span earlier (`dir` -1) or later (1). */
export function shiftRange(range: TimeRange, dir: 1 | -1, now: number): { from: string; to: string } {
  const by = ((range.to - range.from) / 2) * dir;
  return rangeOf(range.from + by, range.to + by, now);
}
