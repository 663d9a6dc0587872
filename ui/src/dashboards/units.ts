// Grafana's units (bytes, percent, s, bps, short, …) as value formatters. The ids, scales,
// suffixes and automatic decimals follow grafana/grafana packages/grafana-data/src/valueFormats
// (valueFormats.ts, categories.ts, symbolFormatters.ts, dateTimeFormatters.ts), so an imported
// dashboard prints the same text it printed in Grafana: `bytes` 1536 is "1.50 KiB".
import { dateTime } from "../timezone";

/** A formatted number with its unit kept apart, so panels can style them differently. */
export interface FormattedValue {
  text: string;
  prefix?: string;
  suffix?: string;
}

/** `decimals` null/undefined: automatic (Grafana's getDecimalsForValue). */
export type ValueFormatter = (value: number, decimals?: number | null) => FormattedValue;

export function formattedToString(v: FormattedValue): string {
  return `${v.prefix ?? ""}${v.text}${v.suffix ?? ""}`;
}

/**
 * How many decimals Grafana shows when the panel does not say (getDecimalsForValue): three
 * significant digits for positive numbers, two for negative ones (Grafana compares the signed
 * mantissa with 2.25), none for integers.
 */
export function autoDecimals(value: number): number {
  const log10 = Math.floor(Math.log(Math.abs(value)) / Math.LN10);
  let dec = -log10 + 1;
  const magn = Math.pow(10, -dec);
  // Grafana divides the signed value here, so negative numbers never get the extra decimal.
  const norm = value / magn;
  if (norm > 2.25) ++dec;
  if (value % 1 === 0) dec = 0;
  return Math.max(0, dec);
}

/** Rounds to `decimals` places and pads with zeros; Grafana's toFixed. */
export function toFixed(value: number, decimals?: number | null): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity || value === -Infinity) return value.toLocaleString();
  const d = decimals ?? autoDecimals(value);
  if (value === 0) return value.toFixed(Math.max(0, Math.min(100, d)));
  const factor = d ? Math.pow(10, Math.max(0, d)) : 1;
  const formatted = String(Math.round(value * factor) / factor);
  if (formatted.includes("e")) return formatted;
  const dot = formatted.indexOf(".");
  const precision = dot === -1 ? 0 : formatted.length - dot - 1;
  if (precision < d) return (precision ? formatted : formatted + ".") + String(factor).slice(1, d - precision + 1);
  return formatted;
}

function fixedUnit(unit: string, asPrefix = false): ValueFormatter {
  return (v, decimals) => {
    const text = toFixed(v, decimals);
    if (!unit) return { text };
    return asPrefix ? { text, prefix: unit } : { text, suffix: ` ${unit}` };
  };
}

function scaled(value: number, decimals: number | null | undefined, suffix: string): FormattedValue {
  return { text: toFixed(value, decimals), suffix };
}

const clamp = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x));
const logb = (b: number, x: number): number => Math.log10(x) / Math.log10(b);

/** Divides by `factor` per step and picks the matching suffix; `offset` is the index of the unscaled suffix. */
function scaledUnits(factor: number, suffixes: string[], offset = 0): ValueFormatter {
  return (v, decimals) => {
    if (!Number.isFinite(v)) return { text: v.toLocaleString() };
    const index = v === 0 ? 0 : Math.floor(logb(factor, Math.abs(v)));
    const suffix = suffixes[clamp(offset + index, 0, suffixes.length - 1)];
    return { text: toFixed(v / factor ** clamp(index, -offset, suffixes.length - offset - 1), decimals), suffix };
  };
}

const SI_PREFIXES = ["f", "p", "n", "µ", "m", "", "k", "M", "G", "T", "P", "E", "Z", "Y"];
const SI_BASE = SI_PREFIXES.indexOf("");
const BIN_PREFIXES = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"];

/** Metric prefixes both ways (0.5 B is "500 mB", as in Grafana); `offset` 1 means the value is already in k. */
function siPrefix(unit: string, offset = 0): ValueFormatter {
  return scaledUnits(1000, SI_PREFIXES.map((p) => ` ${p}${unit}`), SI_BASE + offset);
}

function binaryPrefix(unit: string, offset = 0): ValueFormatter {
  return scaledUnits(1024, BIN_PREFIXES.map((p) => ` ${p}${unit}`), offset);
}

function countUnit(symbol: string): ValueFormatter {
  const scaler = scaledUnits(1000, ["", "K", "M", "B", "T"]);
  return (v, decimals) => {
    const out = scaler(v, decimals);
    return { ...out, suffix: `${out.suffix ?? ""} ${symbol}` };
  };
}

function currency(symbol: string, asSuffix = false): ValueFormatter {
  const scaler = scaledUnits(1000, ["", "K", "M", "B", "T"]);
  return (v, decimals) => {
    const out = scaler(Math.abs(v), decimals);
    if (asSuffix) out.suffix = `${out.suffix ?? ""}${symbol}`;
    else out.prefix = symbol;
    if (v < 0) out.prefix = `-${out.prefix ?? ""}`;
    return out;
  };
}

/** One step of a time ladder: below `below`, divide by `divisor` and print `suffix`. */
type Rung = [below: number, divisor: number, suffix: string];

function timeLadder(rungs: Rung[], last: [divisor: number, suffix: string], zero?: string): ValueFormatter {
  return (v, decimals) => {
    if (zero !== undefined && v === 0) return { text: "0", suffix: zero };
    const abs = Math.abs(v);
    for (const [below, divisor, suffix] of rungs) if (abs < below) return scaled(v / divisor, decimals, suffix);
    return scaled(v / last[0], decimals, last[1]);
  };
}

const toSeconds = timeLadder(
  [
    [1e-6, 1e-9, " ns"],
    [1e-3, 1e-6, " µs"],
    [1, 1e-3, " ms"],
    [60, 1, " s"],
    [3600, 60, " min"],
    [86400, 3600, " hour"],
    [604800, 86400, " day"],
    [31536000, 604800, " week"],
  ],
  [3.15569e7, " year"],
  " s",
);

const toMilliseconds = timeLadder(
  [
    [1000, 1, " ms"],
    [60000, 1000, " s"],
    [3600000, 60000, " min"],
    [86400000, 3600000, " hour"],
    [31536000000, 86400000, " day"],
  ],
  [31536000000, " year"],
);

const toMicroseconds = timeLadder(
  [
    [1000, 1, " µs"],
    [1e6, 1000, " ms"],
  ],
  [1e6, " s"],
);

const toNanoseconds = timeLadder(
  [
    [1000, 1, " ns"],
    [1e6, 1000, " µs"],
    [1e9, 1e6, " ms"],
    [6e10, 1e9, " s"],
    [3.6e12, 6e10, " min"],
    [8.64e13, 3.6e12, " hour"],
  ],
  [8.64e13, " day"],
);

const toMinutes = timeLadder(
  [
    [60, 1, " min"],
    [1440, 60, " hour"],
    [10080, 1440, " day"],
    [604800, 10080, " week"],
  ],
  [5.25948e5, " year"],
);

const toHours = timeLadder(
  [
    [24, 1, " hour"],
    [168, 24, " day"],
    [8760, 168, " week"],
  ],
  [8760, " year"],
);

const toDays = timeLadder(
  [
    [7, 1, " day"],
    [365, 7, " week"],
  ],
  [365, " year"],
);

const INTERVALS: [string, number][] = [
  ["year", 31536000],
  ["month", 2592000],
  ["week", 604800],
  ["day", 86400],
  ["hour", 3600],
  ["minute", 60],
  ["second", 1],
  ["millisecond", 0.001],
];

/** "1 hour, 2 minutes": the largest unit, then `decimals` more (Grafana's dtdurations). */
function toDuration(scaleSeconds: number, scaleName: string): ValueFormatter {
  const fmt: ValueFormatter = (v, decimals) => {
    if (v === 0) return { text: "0", suffix: ` ${scaleName}s` };
    if (v < 0) {
      const out = fmt(-v, decimals);
      return { ...out, suffix: `${out.suffix ?? ""} ago` };
    }
    let ms = v * scaleSeconds * 1000;
    const parts: string[] = [];
    let started = false;
    let more = decimals ?? 0;
    for (const [name, seconds] of INTERVALS) {
      if (more < 0) break;
      const interval = seconds * 1000;
      const count = ms / interval;
      if (count >= 1 || started) {
        started = true;
        const whole = Math.floor(count);
        parts.push(`${whole} ${name}${whole !== 1 ? "s" : ""}`);
        ms %= interval;
        more--;
      }
    }
    return { text: parts.join(", ") };
  };
  return fmt;
}

const pad2 = (n: number): string => (n > 9 ? String(n) : `0${n}`);

function hms(v: number): string {
  return [Math.floor(v / 3600), Math.floor((v % 3600) / 60), Math.floor((v % 3600) % 60)].map(pad2).join(":");
}

const toHMS: ValueFormatter = (v) => (v < 0 ? { text: hms(-v), suffix: " ago" } : { text: hms(v) });

const toDHMS: ValueFormatter = (v) => {
  if (v < 0) return { text: toDHMS(-v).text, suffix: " ago" };
  const days = Math.floor(v / 86400);
  return { text: (days > 0 ? `${days} d ` : "") + hms(v - days * 86400) };
};

/** Grafana's clock (ms): "01h:02m:03s:004ms" trimmed by `decimals`. */
const toClock: ValueFormatter = (ms, decimals) => {
  const v = Math.max(0, ms);
  const h = Math.floor(v / 3600000);
  const m = pad2(Math.floor((v % 3600000) / 60000));
  const s = pad2(Math.floor((v % 60000) / 1000));
  const milli = String(Math.floor(v % 1000)).padStart(3, "0");
  if (v < 1000) return { text: `${milli}ms` };
  if (v < 60000) return { text: decimals === 0 ? `${s}s` : `${s}s:${milli}ms` };
  if (v < 3600000) {
    return { text: decimals === 0 ? `${m}m` : decimals === 1 ? `${m}m:${s}s` : `${m}m:${s}s:${milli}ms` };
  }
  const hours = `${h}h`;
  if (decimals === 0) return { text: hours };
  if (decimals === 1) return { text: `${hours}:${m}m` };
  if (decimals === 2) return { text: `${hours}:${m}m:${s}s` };
  return { text: `${hours}:${m}m:${s}s:${milli}ms` };
};

function isoDate(ms: number, todayTimeOnly: boolean): string {
  const text = dateTime(ms);
  return todayTimeOnly && text.slice(0, 10) === dateTime(Date.now()).slice(0, 10) ? text.slice(11) : text;
}

const booleans = (t: string, f: string): ValueFormatter => (v) => ({ text: v ? t : f });

const FORMATS: Record<string, ValueFormatter> = {
  // Misc
  none: fixedUnit(""),
  string: (v) => ({ text: String(v) }),
  short: scaledUnits(1000, ["", " K", " Mil", " Bil", " Tri", " Quadr", " Quint", " Sext", " Sept"]),
  percent: (v, d) => ({ text: toFixed(v, d), suffix: "%" }),
  percentunit: (v, d) => ({ text: toFixed(100 * v, d), suffix: "%" }),
  humidity: fixedUnit("%H"),
  dB: fixedUnit("dB"),
  hex: (v, d) => ({ text: parseFloat(toFixed(v, d)).toString(16).toUpperCase() }),
  hex0x: (v, d) => {
    const hex = parseFloat(toFixed(v, d)).toString(16).toUpperCase();
    return { text: hex.startsWith("-") ? `-0x${hex.slice(1)}` : `0x${hex}` };
  },
  sci: (v, d) => ({ text: v.toExponential(d ?? undefined) }),
  locale: (v, d) => ({ text: v.toLocaleString(undefined, { maximumFractionDigits: d ?? undefined }) }),
  pixel: fixedUnit("px"),
  bool: booleans("True", "False"),
  bool_yes_no: booleans("Yes", "No"),
  bool_on_off: booleans("On", "Off"),
  // Currency (one of Grafana's many; `currency:<symbol>` covers the rest)
  currencyUSD: currency("$"),
  currencyEUR: currency("€"),
  currencyGBP: currency("£"),
  // Data
  bits: binaryPrefix("b"),
  bytes: binaryPrefix("B"),
  kbytes: binaryPrefix("B", 1),
  mbytes: binaryPrefix("B", 2),
  gbytes: binaryPrefix("B", 3),
  tbytes: binaryPrefix("B", 4),
  pbytes: binaryPrefix("B", 5),
  decbits: siPrefix("b"),
  decbytes: siPrefix("B"),
  deckbytes: siPrefix("B", 1),
  decmbytes: siPrefix("B", 2),
  decgbytes: siPrefix("B", 3),
  dectbytes: siPrefix("B", 4),
  decpbytes: siPrefix("B", 5),
  // Data rate
  pps: siPrefix("p/s"),
  binBps: binaryPrefix("B/s"),
  Bps: siPrefix("B/s"),
  binbps: binaryPrefix("b/s"),
  bps: siPrefix("b/s"),
  KiBs: binaryPrefix("B/s", 1),
  Kibits: binaryPrefix("b/s", 1),
  KBs: siPrefix("B/s", 1),
  Kbits: siPrefix("b/s", 1),
  MiBs: binaryPrefix("B/s", 2),
  Mibits: binaryPrefix("b/s", 2),
  MBs: siPrefix("B/s", 2),
  Mbits: siPrefix("b/s", 2),
  GiBs: binaryPrefix("B/s", 3),
  Gibits: binaryPrefix("b/s", 3),
  GBs: siPrefix("B/s", 3),
  Gbits: siPrefix("b/s", 3),
  // Throughput
  cps: countUnit("cps"),
  ops: countUnit("ops"),
  reqps: countUnit("reqps"),
  rps: countUnit("rps"),
  wps: countUnit("wps"),
  iops: countUnit("iops"),
  cpm: countUnit("cpm"),
  opm: countUnit("opm"),
  rpm: countUnit("rpm"),
  wpm: countUnit("wpm"),
  // Time
  hertz: siPrefix("Hz"),
  ns: toNanoseconds,
  µs: toMicroseconds,
  us: toMicroseconds,
  ms: toMilliseconds,
  s: toSeconds,
  m: toMinutes,
  h: toHours,
  d: toDays,
  dtdurationms: toDuration(0.001, "millisecond"),
  dtdurations: toDuration(1, "second"),
  dthms: toHMS,
  dtdhms: toDHMS,
  timeticks: (v, d) => toSeconds(v / 100, d),
  clockms: toClock,
  clocks: (v, d) => toClock(v * 1000, d),
  // Date & time (values are Unix milliseconds, local time)
  dateTimeAsIso: (v) => ({ text: isoDate(v, false) }),
  dateTimeAsIsoNoDateIfToday: (v) => ({ text: isoDate(v, true) }),
  dateTimeAsSystem: (v) => ({ text: isoDate(v, false) }),
  dateTimeAsLocal: (v) => ({ text: isoDate(v, false) }),
  // Temperature
  celsius: fixedUnit("°C"),
  fahrenheit: fixedUnit("°F"),
  farenheit: fixedUnit("°F"),
  kelvin: fixedUnit("K"),
  // Energy
  watt: siPrefix("W"),
  kwatt: siPrefix("W", 1),
  mwatt: siPrefix("W", -1),
  watth: siPrefix("Wh"),
  kwatth: siPrefix("Wh", 1),
  joule: siPrefix("J"),
  amp: siPrefix("A"),
  mamp: siPrefix("A", -1),
  volt: siPrefix("V"),
  mvolt: siPrefix("V", -1),
  voltamp: siPrefix("VA"),
  ohm: siPrefix("Ω"),
  // Length, mass, volume, a few
  lengthm: siPrefix("m"),
  lengthkm: siPrefix("m", 1),
  massg: siPrefix("g"),
  masskg: siPrefix("g", 1),
  litre: siPrefix("L"),
  degree: fixedUnit("°"),
  ppm: fixedUnit("ppm"),
  rotrpm: fixedUnit("rpm"),
  velocityms: fixedUnit("m/s"),
  velocitykmh: fixedUnit("km/h"),
};

const SI_OFFSETS: Record<string, number> = { f: -5, p: -4, n: -3, µ: -2, μ: -2, m: -1, k: 1, M: 2, G: 3, T: 4, P: 5, E: 6, Z: 7, Y: 8 };

const cache = new Map<string, ValueFormatter>();

/** The formatter for a Grafana unit id; an unknown id is printed after the number, as Grafana does. */
export function getValueFormat(unit?: string | null): ValueFormatter {
  if (!unit) return FORMATS.none;
  const known = Object.prototype.hasOwnProperty.call(FORMATS, unit) ? FORMATS[unit] : cache.get(unit);
  if (known) return known;
  let fmt = fixedUnit(unit);
  const colon = unit.indexOf(":");
  if (colon > 0) {
    const key = unit.slice(0, colon);
    const sub = unit.slice(colon + 1);
    if (key === "prefix") fmt = fixedUnit(sub, true);
    else if (key === "suffix") fmt = fixedUnit(sub);
    else if (key === "count") fmt = countUnit(sub);
    else if (key === "currency") fmt = currency(sub);
    else if (key === "si") {
      const offset = SI_OFFSETS[sub.charAt(0)] ?? 0;
      fmt = siPrefix(offset === 0 ? sub : sub.slice(1), offset);
    } else if (key === "bool") {
      const slash = sub.indexOf("/");
      fmt = slash >= 0 ? booleans(sub.slice(0, slash), sub.slice(slash + 1)) : booleans(sub, "-");
    } else if (key === "time") fmt = (v) => ({ text: isoDate(v, false) });
  }
  cache.set(unit, fmt);
  return fmt;
}

/** `value` in `unit` with its parts apart (null prints as the empty string). */
export function formatValue(unit: string | undefined | null, decimals: number | null | undefined, value: number | null): FormattedValue {
  if (value === null || value === undefined) return { text: "" };
  return getValueFormat(unit)(value, decimals);
}

/** A formatter for Grafana unit id `unit` with `decimals` (null: automatic). */
export function unitFormatter(unit: string | undefined | null, decimals?: number | null): (v: number) => string {
  const fmt = getValueFormat(unit);
  return (v: number) => formattedToString(fmt(v, decimals));
}
