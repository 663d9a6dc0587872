// Template variables and $__ macros in dashboard strings, as Grafana replaces them: `$var`,
// `${var}`, `[[var]]`, `${var:format}`; and Grafana's interval arithmetic ($__interval,
// $__rate_interval, the query step) so imported dashboards send the same PromQL they sent there.

/** What a name stands for while interpolating: one value, or several (multi-value / All). */
export interface ScopeValue {
  values: string[];
  /** Display texts, parallel to `values` (the `text` format and titles). */
  texts?: string[];
  /** The variable allows several values (multi or includeAll): Prometheus formats it as a regex. */
  multi: boolean;
  /** "All" is selected and the variable has a custom allValue: it is substituted as it is. */
  allValue?: string | null;
}

export type Scope = Record<string, ScopeValue>;

/**
 * How values are formatted when the reference names no format: "query" as Grafana's
 * Prometheus datasource does (regex-escaped `(a|b)` for multi values), "text" for titles and
 * legends (display texts joined by " + ").
 */
export type Mode = "query" | "text";

export function single(value: string, text?: string): ScopeValue {
  return { values: [value], texts: text === undefined ? undefined : [text], multi: false };
}

// Grafana's variable reference syntax: $name | [[name(:fmt)]] | ${name(.field)(:fmt)}
const VARIABLE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}/g;

/** The names `text` references, in order (dependencies between variables). */
export function references(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(VARIABLE)) out.push(m[1] ?? m[2] ?? m[4]);
  return out;
}

/** `text` with every known variable replaced; unknown references are left as they are. */
export function interpolate(text: string, scope: Scope, mode: Mode = "query"): string {
  if (!text || text.indexOf("$") < 0 && text.indexOf("[[") < 0) return text;
  return text.replace(VARIABLE, (match, plain?: string, bracket?: string, bracketFmt?: string, braced?: string, _field?: string, bracedFmt?: string) => {
    const name = plain ?? bracket ?? braced ?? "";
    let value = scope[name];
    if (!value && /^DS_/.test(name)) value = single("vigil");
    if (!value) return match;
    return format(value, bracketFmt ?? bracedFmt ?? null, mode);
  });
}

function format(v: ScopeValue, fmt: string | null, mode: Mode): string {
  const values = v.values;
  if (v.allValue !== undefined && v.allValue !== null && fmt !== "text" && fmt !== "percentencode" && fmt !== "queryparam") {
    return v.allValue;
  }
  const [name, arg] = fmt ? splitFormat(fmt) : [null, ""];
  switch (name) {
    case null:
      if (mode === "text") return (v.texts ?? values).join(" + ");
      if (!v.multi) return values.map(regularEscape).join(",");
      return values.length === 1 ? specialRegexEscape(values[0]) : `(${values.map(specialRegexEscape).join("|")})`;
    case "regex": {
      const escaped = values.map(regexEscape);
      return escaped.length === 1 ? escaped[0] : `(${escaped.join("|")})`;
    }
    case "pipe":
      return values.join("|");
    case "csv":
    case "raw":
      return values.join(",");
    case "distributed":
      return values.join(",");
    case "glob":
      return values.length === 1 ? values[0] : `{${values.join(",")}}`;
    case "json":
      return JSON.stringify(values.length === 1 && !v.multi ? values[0] : values);
    case "doublequote":
      return values.map((x) => `"${x.replace(/"/g, '\\"')}"`).join(",");
    case "singlequote":
      return values.map((x) => `'${x.replace(/'/g, "\\'")}'`).join(",");
    case "sqlstring":
      return values.map((x) => `'${x.replace(/'/g, "''")}'`).join(",");
    case "lucene":
      return values.length === 1 ? luceneEscape(values[0]) : `(${values.map((x) => `"${luceneEscape(x)}"`).join(" OR ")})`;
    case "percentencode":
      return encodeURIComponent(values.length === 1 ? values[0] : `{${values.join(",")}}`);
    case "queryparam":
      return values.map((x) => `var-${encodeURIComponent(arg || "")}=${encodeURIComponent(x)}`).join("&");
    case "text":
      return (v.texts ?? values).join(" + ");
    default:
      return values.join(",");
  }
}

function splitFormat(fmt: string): [string, string] {
  const i = fmt.indexOf(":");
  return i < 0 ? [fmt, ""] : [fmt.slice(0, i), fmt.slice(i + 1)];
}

/** Grafana's Prometheus datasource, single values: backslashes and single quotes escaped. */
export function regularEscape(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/'/g, "\\\\'");
}

/** Grafana's Prometheus datasource, multi values: regex metacharacters escaped for a PromQL string. */
export function specialRegexEscape(value: string): string {
  return value.replace(/\\/g, "\\\\\\\\").replace(/[$^*{}[\]'+?.()|]/g, "\\\\$&");
}

/** The `regex` format: a regular expression that matches the value literally. */
export function regexEscape(value: string): string {
  return value.replace(/[\\^$*+?.()|[\]{}/]/g, "\\$&");
}

function luceneEscape(value: string): string {
  return value.replace(/([+\-=&|><!(){}[\]^"~*?:\\/ ])/g, "\\$1");
}

// ---- durations and intervals

const UNIT_MS: Record<string, number> = {
  ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, M: 2_592_000_000, y: 31_536_000_000,
};

/** "30s", "1m30s", "2h", "100ms" (or a bare number of seconds) in milliseconds; null if it is none. */
export function parseDuration(text: string | number | null | undefined): number | null {
  if (text === null || text === undefined) return null;
  if (typeof text === "number") return Number.isFinite(text) ? text * 1000 : null;
  const s = text.trim().replace(/^>/, "");
  if (!s) return null;
  if (/^\d+(\.\d+)?$/.test(s)) return parseFloat(s) * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w|M|y)/gy;
  let total = 0;
  let at = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += parseFloat(m[1]) * UNIT_MS[m[2]];
    at = re.lastIndex;
  }
  return at === s.length && at > 0 ? total : null;
}

/** Grafana's "nice" intervals (rangeutil.roundInterval), in milliseconds. */
export function roundInterval(ms: number): number {
  const table: [number, number][] = [
    [15, 10], [35, 20], [75, 50], [150, 100], [350, 200], [750, 500], [1500, 1000], [3500, 2000],
    [7500, 5000], [12500, 10000], [17500, 15000], [25000, 20000], [45000, 30000], [90000, 60000],
    [210000, 120000], [450000, 300000], [750000, 600000], [1050000, 900000], [1500000, 1200000],
    [2700000, 1800000], [5400000, 3600000], [9000000, 7200000], [16200000, 10800000],
    [32400000, 21600000], [86400000, 43200000], [604800000, 86400000], [1814400000, 604800000],
    [3628800000, 2592000000],
  ];
  for (const [below, nice] of table) if (ms < below) return nice;
  return 31536000000;
}

/** Grafana's secondsToHms: the largest whole unit ("2m", "1h", "100ms"). */
export function secondsToHms(seconds: number): string {
  const y = Math.floor(seconds / 31536000);
  if (y) return `${y}y`;
  const d = Math.floor((seconds % 31536000) / 86400);
  if (d) return `${d}d`;
  const h = Math.floor(((seconds % 31536000) % 86400) / 3600);
  if (h) return `${h}h`;
  const m = Math.floor((((seconds % 31536000) % 86400) % 3600) / 60);
  if (m) return `${m}m`;
  const s = Math.floor((((seconds % 31536000) % 86400) % 3600) % 60);
  if (s) return `${s}s`;
  const ms = Math.floor(seconds * 1000);
  if (ms) return `${ms}ms`;
  return "less than a millisecond";
}

/**
 * Grafana's calculateInterval: range / resolution rounded to a nice interval, at least
 * `lowLimit` (a duration text such as the panel's `interval`, or the scrape interval).
 */
export function calculateInterval(rangeMs: number, resolution: number, lowLimit?: string | null): { ms: number; text: string } {
  const low = parseDuration(lowLimit ?? null) ?? 1;
  let ms = roundInterval(rangeMs / Math.max(1, resolution));
  if (low > ms) ms = low;
  return { ms, text: secondsToHms(ms / 1000) };
}

/** The scrape interval Grafana's Prometheus datasource assumes (its `timeInterval`). */
export const SCRAPE_INTERVAL_S = 15;

export interface QueryInterval {
  /** query_range step, seconds. */
  step: number;
  /** $__interval and friends for this target. */
  scope: Scope;
}

/**
 * The step and interval macros of one Prometheus target, as Grafana's datasource computes
 * them: the panel interval, raised to the target's `interval`, times `intervalFactor`, and
 * never more than 11000 points.
 */
export function targetInterval(
  panelInterval: { ms: number; text: string },
  rangeS: number,
  targetMinInterval: string | null,
  intervalFactor: number | undefined,
): QueryInterval {
  let interval = panelInterval.ms / 1000;
  const minInterval = (parseDuration(targetMinInterval || panelInterval.text) ?? panelInterval.ms) / 1000;
  const scrape = (parseDuration(targetMinInterval || null) ?? SCRAPE_INTERVAL_S * 1000) / 1000;
  let safe = rangeS / 11000;
  if (safe > 1) safe = Math.ceil(safe);
  const adjusted = Math.max(interval * (intervalFactor || 1), minInterval, safe);
  let intervalText = panelInterval.text;
  let intervalMs = panelInterval.ms;
  if (adjusted !== interval) {
    interval = adjusted;
    intervalText = `${interval}s`;
    intervalMs = interval * 1000;
  }
  const rate = Math.max(interval + scrape, 4 * scrape);
  return {
    step: interval,
    scope: {
      __interval: single(intervalText),
      __interval_ms: single(String(intervalMs)),
      __rate_interval: single(`${rate}s`),
    },
  };
}

/** $__range, $__range_s, $__range_ms, $__from, $__to for a range in Unix milliseconds. */
export function rangeScope(fromMs: number, toMs: number): Scope {
  const ms = toMs - fromMs;
  const s = Math.round(ms / 1000);
  return {
    __range: single(`${s}s`),
    __range_s: single(String(s)),
    __range_ms: single(String(ms)),
    __from: single(String(Math.round(fromMs))),
    __to: single(String(Math.round(toMs))),
  };
}
