// The one time zone every page shows times in: the browser's (the default) or UTC, chosen in
// the top bar and kept in the URL as `tz=utc`. Chart axes, tooltips, dashboard ranges, alerts,
// silences and status all format through here.

export type Zone = "browser" | "utc";

/** The URL parameter that holds the zone; absent means the browser's. */
export const ZONE_PARAM = "tz";

export function currentZone(search: string = typeof location === "undefined" ? "" : location.search): Zone {
  return new URLSearchParams(search).get(ZONE_PARAM) === "utc" ? "utc" : "browser";
}

const pad = (n: number, width = 2): string => String(n).padStart(width, "0");

/** "2026-12-07 11:02:03" in `zone`. */
export function dateTime(ms: number, zone: Zone = currentZone()): string {
  const d = new Date(ms);
  return zone === "utc"
    ? `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`
    : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "UTC", or the browser's offset from it at `ms` ("UTC+01:00", "UTC-04:00"). */
export function zoneLabel(zone: Zone = currentZone(), ms: number = Date.now()): string {
  if (zone === "utc") return "UTC";
  const offset = -new Date(ms).getTimezoneOffset();
  const abs = Math.abs(offset);
  return `UTC${offset < 0 ? "-" : "+"}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** A time as the pages print it: "2026-12-07 11:02:03 UTC+01:00". */
export function stamp(ms: number, zone: Zone = currentZone()): string {
  return `${dateTime(ms, zone)} ${zoneLabel(zone, ms)}`;
}

/** "2026-12-07 11:02[:03]" read in `zone` (Unix ms); null when the text is not of that form. */
export function parseDateTime(text: string, zone: Zone = currentZone()): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(text.trim());
  if (!m) return null;
  const [y, mo, d, hh, mm, ss] = [m[1], m[2], m[3], m[4] ?? "0", m[5] ?? "0", m[6] ?? "0"].map(Number);
  const t = zone === "utc" ? Date.UTC(y, mo - 1, d, hh, mm, ss) : new Date(y, mo - 1, d, hh, mm, ss).getTime();
  return Number.isFinite(t) ? t : null;
}

/** `href` with the current page's zone carried over when it names none (links between pages). */
export function keepZone(href: string, search?: string): string {
  if (currentZone(search) !== "utc") return href;
  const url = new URL(href, "http://x");
  if (url.searchParams.has(ZONE_PARAM)) return href;
  url.searchParams.set(ZONE_PARAM, "utc");
  return url.pathname + url.search + url.hash;
}
