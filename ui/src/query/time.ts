// Durations and times as Prometheus's graph page spells them: "1h30m" ranges, the +/- ladder,
// auto resolution, and "YYYY-MM-DD HH:mm:ss" (UTC) end times in the URL.
import { parseDuration } from "../duration";

/** A range or step as the graph page takes it, in seconds: a Prometheus duration ("1h30m") or,
 * as Prometheus's API also accepts, a bare number of seconds; null when it is neither. */
export function parseSeconds(text: string): number | null {
  const s = text.trim();
  if (/^\d+(?:\.\d+)?$/.test(s)) {
    const n = parseFloat(s);
    return n > 0 ? n : null;
  }
  const ms = parseDuration(s);
  return ms === null ? null : ms / 1000;
}

/** The steps Prometheus's range +/- buttons walk through, in seconds. */
export const RANGE_LADDER = [
  1, 10, 60, 300, 900, 1800, 3600, 7200, 21600, 43200, 86400, 172800, 604800, 1209600, 2419200,
  4838400, 31536000, 63072000,
];

/** The next larger (`dir` = 1) or smaller (-1) rung of the ladder from `range`. */
export function stepRange(range: number, dir: 1 | -1): number {
  if (dir > 0) return RANGE_LADDER.find((r) => r > range) ?? range;
  for (let i = RANGE_LADDER.length - 1; i >= 0; i--) if (RANGE_LADDER[i] < range) return RANGE_LADDER[i];
  return range;
}

/** Prometheus's default resolution: about 250 points across the range, at least 1 s. */
export function autoStep(range: number): number {
  return Math.max(Math.floor(range / 250), 1);
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}

/** Unix seconds -> "2024-01-02 03:04:05" (UTC), the format of g0.end_input. */
export function formatTime(seconds: number): string {
  const d = new Date(seconds * 1000);
  const base = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  const ms = d.getUTCMilliseconds();
  return ms ? `${base}.${pad(ms, 3)}` : base;
}

/**
 * "2024-01-02 03:04:05" (UTC), RFC 3339 or unix seconds -> unix seconds; null when blank
 * (meaning "now") and NaN when it cannot be read.
 */
export function parseTime(text: string): number | null {
  const s = text.trim();
  if (s === "" || s.toLowerCase() === "now") return null;
  if (/^\d+(?:\.\d+)?$/.test(s)) return parseFloat(s);
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(s);
  if (!m) return NaN;
  const [, y, mo, d, hh = "0", mm = "0", ss = "0", frac = "0", zone] = m;
  let t = Date.UTC(+y, +mo - 1, +d, +hh, +mm, +ss, +frac.padEnd(3, "0"));
  if (zone && zone !== "Z") {
    const z = /^([+-])(\d{2}):?(\d{2})$/.exec(zone);
    if (z) t -= (z[1] === "-" ? -1 : 1) * (+z[2] * 60 + +z[3]) * 60000;
  }
  return t / 1000;
}
