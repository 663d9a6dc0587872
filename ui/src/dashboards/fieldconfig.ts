// Resolving a panel's fieldConfig (defaults + overrides, or a legacy graph/singlestat panel's
// fields) for one series, and what Grafana does with it: reducers, thresholds, value mappings,
// colours. Semantics follow grafana/grafana packages/grafana-data/src (field/overrides,
// field/displayProcessor, field/fieldColor, transformations/fieldReducer, utils/valueMappings).
import type { FieldConfig, Frame, GrafanaPanel, Override, Threshold } from "./types";
import { type FormattedValue, formattedToString, getValueFormat } from "./units";

/** What a panel needs to draw one series: its display name, formatter, range and colours. */
export interface FieldDisplay {
  name: string;
  unit: string;
  decimals: number | null;
  min: number | null;
  max: number | null;
  format: (v: number) => string;
  /** A fixed colour when the field config names one, else null (the palette decides). */
  color: string | null;
  thresholds: Threshold[];
  /** Grafana's custom.* options for this field (stacking, fillOpacity, lineWidth, transform…). */
  custom: Record<string, unknown>;
  hidden: boolean;
  /** "absolute", or "percentage" of the min..max range. */
  thresholdsMode: "absolute" | "percentage";
  /** Grafana's color.mode: "fixed", "thresholds", "palette-classic", "continuous-GrYlRd", … */
  colorMode: string;
  mappings: ValueMapping[];
  /** The text for a missing value, when the panel sets one. */
  noValue: string | null;
  /** The merged field config, for options this module does not type. */
  config: FieldConfig;
  /** Formats, maps and colours one value. `range` fills in a missing min/max (from the data). */
  display(value: number | null, range?: { min: number; max: number }): DisplayValue;
}

/** One value ready to draw: Grafana's DisplayValue. */
export interface DisplayValue {
  text: string;
  prefix: string;
  suffix: string;
  numeric: number | null;
  /** A CSS colour. */
  color: string;
  /** Position of the value in min..max, 0..1 (for gauges and bars). */
  percent: number;
}

export interface MappingResult {
  text?: string;
  color?: string;
}

/** Grafana's value mappings, normalised from both the current and the pre-8.0 formats. */
export type ValueMapping =
  | { type: "value"; options: Record<string, MappingResult> }
  | { type: "range"; from: number | null; to: number | null; result: MappingResult }
  | { type: "regex"; pattern: string; result: MappingResult }
  | { type: "special"; match: string; result: MappingResult };

/** Grafana's classic palette, as in chart.ts (kept here so this module has no DOM dependency). */
export const CLASSIC_PALETTE = [
  "#7EB26D", "#EAB839", "#6ED0E0", "#EF843C", "#E24D42", "#1F78C1", "#BA43A9", "#705DA0",
  "#508642", "#CCA300", "#447EBC", "#C15C17", "#890F02", "#0A437C", "#6D1F62", "#584477",
  "#B7DBAB", "#F4D598", "#70DBED", "#F9BA8F", "#F29191", "#82B5D8", "#E5A8E2", "#AEA2E0",
];

/** Grafana's named colours (super-light, light, base, semi-dark, dark per hue). */
const HUES: Record<string, string[]> = {
  red: ["#FFA6B0", "#FF7383", "#F2495C", "#E02F44", "#C4162A"],
  orange: ["#FFCB7D", "#FFB357", "#FF9830", "#FF780A", "#FA6400"],
  yellow: ["#FFF899", "#FFEE52", "#FADE2A", "#F2CC0C", "#E0B400"],
  green: ["#C8F2C2", "#96D98D", "#73BF69", "#56A64B", "#37872D"],
  blue: ["#C0D8FF", "#8AB8FF", "#5794F2", "#3274D9", "#1F60C4"],
  purple: ["#DEB6F2", "#CA95E5", "#B877D9", "#A352CC", "#8F3BB8"],
};
const SHADES = ["super-light-", "light-", "", "semi-dark-", "dark-"];
const NAMED = new Map<string, string>();
for (const [hue, values] of Object.entries(HUES)) SHADES.forEach((shade, i) => NAMED.set(shade + hue, values[i]));
for (const [alias, hue] of [["darkgreen", "dark-green"], ["darkred", "dark-red"], ["darkorange", "dark-orange"]]) {
  NAMED.set(alias, NAMED.get(hue) ?? hue);
}

/** A Grafana colour name ("semi-dark-red", "green", "#ff0000", "rgba(…)") as CSS; unknown → as given if safe. */
export function cssColor(name: string | null | undefined): string {
  if (!name) return "var(--muted)";
  const named = NAMED.get(name.toLowerCase());
  if (named) return named;
  if (name === "text") return "var(--fg)";
  if (name === "transparent") return "transparent";
  // Anything else must look like a CSS colour; dashboard strings never reach style unchecked.
  return /^(#[0-9a-f]{3,8}|(rgb|rgba|hsl|hsla)\([0-9.,%\s]+\)|[a-z]{3,20})$/i.test(name) ? name : "var(--muted)";
}

/** Grafana's default thresholds: green, red from 80. */
export const DEFAULT_THRESHOLDS: Threshold[] = [
  { value: null, color: "green" },
  { value: 80, color: "red" },
];

/** The colour of `value` by threshold steps (a null first value is the base, -Infinity). */
export function thresholdColor(steps: Threshold[], value: number): string {
  return activeThreshold(steps, value)?.color ?? "green";
}

/** The step in force at `value`: the last whose value is ≤ `value` (Grafana's getActiveThreshold). */
export function activeThreshold(steps: Threshold[], value: number): Threshold | undefined {
  let active = steps[0];
  for (const step of steps) {
    const at = step.value === null ? -Infinity : step.value;
    if (value >= at) active = step;
    else break;
  }
  return active;
}

/** `value` as the threshold compares it: itself, or its percentage of min..max in percentage mode. */
export function thresholdInput(mode: "absolute" | "percentage", value: number, min: number, max: number): number {
  if (mode !== "percentage") return value;
  return max === min ? 100 : ((value - min) / (max - min)) * 100;
}

// ---- Reducers ---------------------------------------------------------------------------------

export const REDUCERS = [
  "lastNotNull", "last", "firstNotNull", "first", "mean", "max", "min", "sum", "count", "range",
  "delta", "diff", "diffperc", "step", "median", "variance", "stdDev", "distinctCount", "changeCount",
  "allIsZero", "allIsNull", "logmin",
] as const;

/** Old ids (singlestat's valueName, Grafana 6) for the current reducer ids. */
const REDUCER_ALIASES: Record<string, string> = {
  current: "lastNotNull", avg: "mean", total: "sum", mean: "mean", last_time: "last",
  lastnotnull: "lastNotNull", firstnotnull: "firstNotNull",
};

/**
 * Grafana's reducer `calc` over a series. A null is a point the series has no sample at (the
 * frames are aligned on one time axis), so it is skipped, as Grafana never sees it; NaN
 * counts for `last`/`first`/`count` but not for the arithmetic, as in Grafana's doStandardCalcs.
 */
export function reduce(values: ArrayLike<number | null>, calc: string): number | null {
  const id = REDUCER_ALIASES[calc] ?? REDUCER_ALIASES[calc.toLowerCase()] ?? calc;
  const present: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v !== null && v !== undefined) present.push(v);
  }
  if (id === "count") return present.length;
  if (id === "last") return present.length ? present[present.length - 1] : null;
  if (id === "first") return present.length ? present[0] : null;
  const nums = present.filter((v) => !Number.isNaN(v));
  if (id === "allIsNull") return nums.length === 0 ? 1 : 0;
  if (!nums.length) return id === "sum" || id === "delta" ? 0 : null;
  const n = nums.length;
  switch (id) {
    case "lastNotNull":
      return nums[n - 1];
    case "firstNotNull":
      return nums[0];
    case "sum":
      return nums.reduce((a, b) => a + b, 0);
    case "mean":
      return nums.reduce((a, b) => a + b, 0) / n;
    case "max":
      return nums.reduce((a, b) => (b > a ? b : a), -Infinity);
    case "min":
      return nums.reduce((a, b) => (b < a ? b : a), Infinity);
    case "range":
      return reduce(nums, "max")! - reduce(nums, "min")!;
    case "diff":
      return nums[n - 1] - nums[0];
    case "diffperc":
      return nums[0] === 0 ? null : ((nums[n - 1] - nums[0]) / nums[0]) * 100;
    case "delta": {
      // Counter semantics: increases add up; after a reset the new value counts from zero.
      let delta = 0;
      let previousUp = true;
      for (let i = 1; i < n; i++) {
        if (nums[i - 1] > nums[i]) {
          previousUp = false;
          if (i === n - 1) delta += nums[i];
        } else {
          delta += previousUp ? nums[i] - nums[i - 1] : nums[i];
          previousUp = true;
        }
      }
      return delta;
    }
    case "step": {
      let step = Infinity;
      for (let i = 1; i < n; i++) step = Math.min(step, nums[i] - nums[i - 1]);
      return step === Infinity ? null : step;
    }
    case "median": {
      const sorted = [...nums].sort((a, b) => a - b);
      const mid = Math.floor(n / 2);
      return n % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
    case "variance":
    case "stdDev": {
      const mean = nums.reduce((a, b) => a + b, 0) / n;
      const variance = nums.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
      return id === "variance" ? variance : Math.sqrt(variance);
    }
    case "distinctCount":
      return new Set(nums).size;
    case "changeCount": {
      let changes = 0;
      for (let i = 1; i < n; i++) if (nums[i] !== nums[i - 1]) changes++;
      return changes;
    }
    case "allIsZero":
      return nums.every((v) => v === 0) ? 1 : 0;
    case "logmin": {
      const positive = nums.filter((v) => v > 0);
      return positive.length ? Math.min(...positive) : null;
    }
    default:
      return nums[n - 1];
  }
}

/** A human name for a reducer id, as Grafana's legend and table headers print it. */
export function reducerName(calc: string): string {
  const names: Record<string, string> = {
    lastNotNull: "Last *", last: "Last", firstNotNull: "First *", first: "First", mean: "Mean",
    max: "Max", min: "Min", sum: "Total", count: "Count", range: "Range", delta: "Delta",
    diff: "Difference", diffperc: "Difference percent", step: "Step", median: "Median",
    variance: "Variance", stdDev: "StdDev", distinctCount: "Distinct count", changeCount: "Change count",
  };
  const id = REDUCER_ALIASES[calc] ?? calc;
  return names[id] ?? id;
}

// ---- Value mappings ---------------------------------------------------------------------------

function asRecord(x: unknown): Record<string, unknown> {
  return x !== null && typeof x === "object" && !Array.isArray(x) ? (x as Record<string, unknown>) : {};
}

function asNumber(x: unknown): number | null {
  if (typeof x === "number") return Number.isFinite(x) ? x : null;
  if (typeof x === "string" && x.trim() !== "" && Number.isFinite(Number(x))) return Number(x);
  return null;
}

function asResult(x: unknown): MappingResult {
  const r = asRecord(x);
  return {
    text: typeof r.text === "string" ? r.text : undefined,
    color: typeof r.color === "string" ? r.color : undefined,
  };
}

/** Both mapping formats: `{type: "value", options: {...}}` (8.0+) and `{type: 1, value, text}` (older). */
export function normaliseMappings(raw: unknown): ValueMapping[] {
  if (!Array.isArray(raw)) return [];
  const out: ValueMapping[] = [];
  for (const item of raw) {
    const m = asRecord(item);
    const options = asRecord(m.options);
    if (m.type === "value") {
      const map: Record<string, MappingResult> = {};
      for (const [k, v] of Object.entries(options)) map[k] = asResult(v);
      out.push({ type: "value", options: map });
    } else if (m.type === "range") {
      out.push({ type: "range", from: asNumber(options.from), to: asNumber(options.to), result: asResult(options.result) });
    } else if (m.type === "regex" && typeof options.pattern === "string") {
      out.push({ type: "regex", pattern: options.pattern, result: asResult(options.result) });
    } else if (m.type === "special" && typeof options.match === "string") {
      out.push({ type: "special", match: options.match, result: asResult(options.result) });
    } else if (m.type === 1 || m.type === "1") {
      const text = typeof m.text === "string" ? m.text : "";
      const value = String(m.value ?? "");
      if (value === "null") out.push({ type: "special", match: "null", result: { text } });
      else out.push({ type: "value", options: { [value]: { text } } });
    } else if (m.type === 2 || m.type === "2") {
      const text = typeof m.text === "string" ? m.text : "";
      out.push({ type: "range", from: asNumber(m.from), to: asNumber(m.to), result: { text } });
    }
  }
  return out;
}

/** The first mapping that matches `value` (Grafana's getValueMappingResult), or null. */
export function mapValue(mappings: ValueMapping[], value: number | null): MappingResult | null {
  for (const m of mappings) {
    if (m.type === "value") {
      if (value === null) continue;
      const hit = m.options[formatKey(value)];
      if (hit) return hit;
    } else if (m.type === "range") {
      if (value === null || Number.isNaN(value)) continue;
      if (m.from === null && m.to === null) continue;
      if ((m.from === null || value >= m.from) && (m.to === null || value <= m.to)) return m.result;
    } else if (m.type === "regex") {
      if (value === null) continue;
      const re = toRegExp(m.pattern);
      if (re?.test(formatKey(value))) return m.result;
    } else if (m.type === "special") {
      const isNull = value === null;
      const isNaN = value !== null && Number.isNaN(value);
      const hit =
        (m.match === "null" && isNull) ||
        (m.match === "nan" && isNaN) ||
        (m.match === "null+nan" && (isNull || isNaN)) ||
        (m.match === "true" && value === 1) ||
        (m.match === "false" && value === 0) ||
        (m.match === "empty" && isNull);
      if (hit) return m.result;
    }
  }
  return null;
}

function formatKey(value: number): string {
  return Number.isNaN(value) ? "NaN" : String(value);
}

/** Grafana's stringToJsRegex: "/re/flags", or a bare pattern that must match the whole string. */
export function toRegExp(pattern: string): RegExp | null {
  try {
    const m = /^\/(.*)\/([gimsuy]*)$/s.exec(pattern);
    return m ? new RegExp(m[1], m[2].replace("g", "")) : new RegExp(`^(?:${pattern})$`);
  } catch {
    return null;
  }
}

// ---- Overrides --------------------------------------------------------------------------------

/** Grafana's displayName template: `${__field.labels.job}`, `${__series.name}`, `${__field.name}`. */
export function interpolateDisplayName(template: string, frame: Frame): string {
  return template.replace(/\$\{(__field\.labels(?:\.([^}:]+))?|__field\.name|__field\.displayName|__series\.name)(?::[^}]*)?\}/g, (_m, what: string, label?: string) => {
    if (label !== undefined) return frame.labels[label] ?? "";
    if (what === "__field.labels") {
      const pairs = Object.entries(frame.labels).filter(([k]) => k !== "__name__");
      return `{${pairs.map(([k, v]) => `${k}="${v}"`).join(", ")}}`;
    }
    return frame.name;
  });
}

function matches(override: Override, frame: Frame, names: string[]): boolean {
  const opts = override.matcher?.options;
  switch (override.matcher?.id) {
    case "byName":
      return typeof opts === "string" && names.includes(opts);
    case "byNames": {
      const o = asRecord(opts);
      const list = Array.isArray(o.names) ? o.names.map(String) : [];
      const hit = names.some((n) => list.includes(n));
      return o.mode === "exclude" ? !hit : hit;
    }
    case "byRegexp": {
      const re = typeof opts === "string" ? toRegExp(opts) : null;
      return re !== null && names.some((n) => re.test(n));
    }
    case "byFrameRefID":
      return typeof opts === "string" && frame.refId === opts;
    case "byType":
      return opts === "number";
    case "byValue": {
      const o = asRecord(opts);
      const limit = asNumber(o.value);
      const v = reduce(frame.values, typeof o.reducer === "string" ? o.reducer : "lastNotNull");
      if (limit === null || v === null) return false;
      switch (o.op) {
        case "gt": return v > limit;
        case "gte": return v >= limit;
        case "lt": return v < limit;
        case "lte": return v <= limit;
        case "eq": return v === limit;
        case "ne": return v !== limit;
        default: return false;
      }
    }
    default:
      return false;
  }
}

/** Sets `config[path]` for a property id such as "unit" or "custom.hideFrom" (nested). */
function setProperty(config: FieldConfig, id: string, value: unknown): void {
  const path = id.split(".");
  let target: Record<string, unknown> = config;
  for (const key of path.slice(0, -1)) {
    if (key === "__proto__" || key === "constructor" || key === "prototype") return;
    const next = { ...asRecord(target[key]) };
    target[key] = next;
    target = next;
  }
  const last = path[path.length - 1];
  if (last === "__proto__" || last === "constructor" || last === "prototype") return;
  if (value === undefined || value === null) delete target[last];
  else target[last] = value;
}

// ---- Legacy panels ----------------------------------------------------------------------------

/** A pre-fieldConfig panel's (graph, singlestat, old table) fields as a field config. */
function legacyConfig(panel: GrafanaPanel, frame: Frame): FieldConfig {
  const config: FieldConfig = {};
  let axis = panel.yaxes?.[0];
  for (const o of panel.seriesOverrides ?? []) {
    const alias = typeof o.alias === "string" ? o.alias : "";
    const re = alias.startsWith("/") ? toRegExp(alias) : null;
    if ((re ? re.test(frame.name) : alias === frame.name) && o.yaxis === 2) axis = panel.yaxes?.[1];
  }
  const unit = panel.format ?? axis?.format;
  if (typeof unit === "string") config.unit = unit;
  const decimals = panel.decimals ?? axis?.decimals;
  if (typeof decimals === "number") config.decimals = decimals;
  const min = asNumber(axis?.min);
  const max = asNumber(axis?.max);
  if (min !== null) config.min = min;
  if (max !== null) config.max = max;
  const gauge = asRecord(panel.gauge);
  if (panel.type === "singlestat" && gauge.show) {
    const gmin = asNumber(gauge.minValue);
    const gmax = asNumber(gauge.maxValue);
    if (gmin !== null) config.min = gmin;
    if (gmax !== null) config.max = gmax;
  }
  const colors = Array.isArray(panel.colors) ? panel.colors.map(String) : [];
  const levels = typeof panel.thresholds === "string" ? panel.thresholds.split(",").map((s) => asNumber(s.trim())) : [];
  if (colors.length && levels.length && levels.every((l) => l !== null)) {
    config.thresholds = {
      mode: "absolute",
      steps: [{ value: null, color: colors[0] }, ...levels.map((l, i) => ({ value: l, color: colors[Math.min(i + 1, colors.length - 1)] }))],
    };
    config.color = { mode: "thresholds" };
  }
  const mappings: unknown[] = [];
  const valueMaps = Array.isArray(panel.valueMaps) ? panel.valueMaps : [];
  for (const vm of valueMaps) mappings.push({ type: 1, ...asRecord(vm) });
  const rangeMaps = Array.isArray(panel.rangeMaps) ? panel.rangeMaps : [];
  for (const rm of rangeMaps) mappings.push({ type: 2, ...asRecord(rm) });
  if (mappings.length) config.mappings = mappings;
  if (typeof panel.nullText === "string" && panel.nullText) config.noValue = panel.nullText;
  return config;
}

// ---- Resolution -------------------------------------------------------------------------------

const THRESHOLD_COLOR_PANELS = new Set(["stat", "gauge", "bargauge", "singlestat", "table", "table-old", "text"]);
/** Panels whose values are coloured green to red by default (Grafana's state timeline). */
const STATE_PANELS = new Set(["state-timeline"]);

export interface ResolveOptions {
  /** The series' position among the panel's frames, for the classic palette. */
  index?: number;
  /** Replaces dashboard variables in a display name. */
  interpolate?: (text: string) => string;
}

/** The field config in force for `frame`: defaults, then each matching override in order. */
export function fieldConfigFor(panel: GrafanaPanel, frame: Frame, interpolate?: (t: string) => string): FieldConfig {
  if (!panel.fieldConfig) return legacyConfig(panel, frame);
  const defaults = panel.fieldConfig.defaults ?? {};
  const config: FieldConfig = { ...defaults, custom: { ...(defaults.custom ?? {}) } };
  const names = [frame.name];
  if (defaults.displayName) {
    const named = interpolateDisplayName(interpolate ? interpolate(defaults.displayName) : defaults.displayName, frame);
    names.push(named);
  }
  for (const override of panel.fieldConfig.overrides ?? []) {
    if (!override || !matches(override, frame, names)) continue;
    for (const prop of override.properties ?? []) if (prop && typeof prop.id === "string") setProperty(config, prop.id, prop.value);
  }
  return config;
}

export function resolveField(panel: GrafanaPanel, frame: Frame, options: ResolveOptions = {}): FieldDisplay {
  const config = fieldConfigFor(panel, frame, options.interpolate);
  // Grafana's display processor formats with "none" when no unit is set; the pre-7 graph
  // panel's y-axis format defaulted to "short".
  const unit = typeof config.unit === "string" && config.unit ? config.unit : panel.fieldConfig || panel.type !== "graph" ? "none" : "short";
  const decimals = typeof config.decimals === "number" ? config.decimals : null;
  const min = asNumber(config.min);
  const max = asNumber(config.max);
  const displayName = typeof config.displayName === "string" && config.displayName ? config.displayName : null;
  const name = displayName
    ? interpolateDisplayName(options.interpolate ? options.interpolate(displayName) : displayName, frame)
    : frame.name;
  const steps = Array.isArray(config.thresholds?.steps) && config.thresholds.steps.length ? config.thresholds.steps : DEFAULT_THRESHOLDS;
  const thresholdsMode = config.thresholds?.mode === "percentage" ? "percentage" : "absolute";
  const colorMode = config.color?.mode ?? (THRESHOLD_COLOR_PANELS.has(panel.type) ? "thresholds" : STATE_PANELS.has(panel.type) ? "continuous-GrYlRd" : "palette-classic");
  const fixed = colorMode === "fixed" || colorMode === "shades" ? cssColor(config.color?.fixedColor ?? "green") : null;
  const mappings = normaliseMappings(config.mappings);
  const noValue = typeof config.noValue === "string" ? config.noValue : null;
  const custom = asRecord(config.custom);
  const hideFrom = asRecord(custom.hideFrom);
  const formatter = getValueFormat(unit);
  const paletteColor = CLASSIC_PALETTE[(options.index ?? 0) % CLASSIC_PALETTE.length];

  const display = (value: number | null, range?: { min: number; max: number }): DisplayValue => {
    const lo = min ?? range?.min ?? 0;
    const hi = max ?? range?.max ?? 100;
    const percent = value === null || Number.isNaN(value) ? 0 : hi === lo ? 1 : Math.min(1, Math.max(0, (value - lo) / (hi - lo)));
    let color: string;
    if (fixed) color = fixed;
    else if (colorMode === "thresholds" || value === null) {
      const input = value === null || Number.isNaN(value) ? -Infinity : thresholdInput(thresholdsMode, value, lo, hi);
      color = cssColor(thresholdColor(steps, input));
    } else if (colorMode.startsWith("continuous-")) color = continuousColor(colorMode, percent);
    else color = paletteColor;
    const mapped = mapValue(mappings, value);
    if (mapped?.color) color = cssColor(mapped.color);
    if (mapped?.text !== undefined) return { text: mapped.text, prefix: "", suffix: "", numeric: value, color, percent };
    if (value === null) return { text: noValue ?? "", prefix: "", suffix: "", numeric: null, color, percent };
    if (Number.isNaN(value)) return { text: "NaN", prefix: "", suffix: "", numeric: value, color, percent };
    const f: FormattedValue = formatter(value, decimals);
    return { text: stripZeros(f.text, decimals), prefix: f.prefix ?? "", suffix: f.suffix ?? "", numeric: value, color, percent };
  };

  return {
    name,
    unit,
    decimals,
    min,
    max,
    format: valueFormatter(unit, decimals),
    color: fixed,
    thresholds: steps,
    custom,
    hidden: hideFrom.viz === true,
    thresholdsMode,
    colorMode,
    mappings,
    noValue,
    config,
    display,
  };
}

/**
 * Grafana's display processor drops the trailing zeros of automatic decimals ("1.50 KiB" from the
 * bytes formatter shows as "1.5 KiB"; it does `+text + ""` when the field has no decimals set).
 * Only plain decimal numbers are touched here, where Grafana's coercion would print "NaN" for
 * texts such as "1,234.5" or "1 hour".
 */
export function stripZeros(text: string, decimals: number | null): string {
  if (decimals !== null || !/^-?\d+\.\d+$/.test(text)) return text;
  return String(+text);
}

/** Formats values in `unit` as a field shows them: automatic decimals without trailing zeros. */
export function valueFormatter(unit: string, decimals: number | null): (v: number) => string {
  const formatter = getValueFormat(unit);
  return (v: number) => {
    const f = formatter(v, decimals);
    return formattedToString({ ...f, text: stripZeros(f.text, decimals) });
  };
}

/** `display(v)` as one string, prefix and suffix included. */
export function displayText(d: DisplayValue): string {
  return formattedToString(d);
}

/** The smallest and largest sample over all frames (Grafana's global range for gauges without min/max). */
export function dataRange(frames: Frame[]): { min: number; max: number } | undefined {
  let lo = Infinity;
  let hi = -Infinity;
  for (const f of frames) {
    for (const v of f.values) {
      if (v === null || Number.isNaN(v)) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (lo === Infinity) return undefined;
  // One value: Grafana widens the range so a lone value is not at both ends.
  if (lo === hi) return lo === 0 ? { min: 0, max: 100 } : { min: Math.min(0, lo), max: Math.max(0, hi) };
  return { min: lo, max: hi };
}

const SCHEMES: Record<string, string[]> = {
  GrYlRd: ["#73BF69", "#FADE2A", "#F2495C"],
  RdYlGr: ["#F2495C", "#FADE2A", "#73BF69"],
  BlYlRd: ["#5794F2", "#FADE2A", "#F2495C"],
  YlRd: ["#FADE2A", "#F2495C"],
  BlPu: ["#5794F2", "#B877D9"],
  YlBl: ["#FADE2A", "#5794F2"],
  blues: ["#C0D8FF", "#1F60C4"],
  reds: ["#FFA6B0", "#C4162A"],
  greens: ["#C8F2C2", "#37872D"],
  purples: ["#DEB6F2", "#8F3BB8"],
};

/** A colour from a continuous scheme at `t` in 0..1 (linear between its stops). */
export function continuousColor(mode: string, t: number): string {
  const stops = SCHEMES[mode.replace(/^continuous-/, "")] ?? SCHEMES.GrYlRd;
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const a = hexRgb(stops[i]);
  const b = hexRgb(stops[i + 1]);
  const f = x - i;
  const mix = a.map((c, k) => Math.round(c + (b[k] - c) * f));
  return `rgb(${mix.join(", ")})`;
}

function hexRgb(hex: string): number[] {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}
