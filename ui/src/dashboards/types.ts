// The contracts between the dashboard page, its panels and the field-config module.
// A dashboard is Grafana's JSON model as imported; only the fields vigil reads are typed.
import type { NativeHistogram } from "../api/types/query";

/** Grafana's panel JSON; unknown fields are kept and ignored. */
export interface GrafanaPanel {
  id?: number;
  type: string;
  title?: string;
  description?: string;
  gridPos?: { x: number; y: number; w: number; h: number };
  targets?: GrafanaTarget[];
  fieldConfig?: { defaults?: FieldConfig; overrides?: Override[] };
  options?: Record<string, unknown>;
  /** Rows: collapsed rows carry their panels here. */
  collapsed?: boolean;
  panels?: GrafanaPanel[];
  repeat?: string;
  repeatDirection?: "h" | "v";
  maxPerRow?: number;
  interval?: string;
  maxDataPoints?: number;
  datasource?: unknown;
  // Legacy `graph` panel fields.
  stack?: boolean;
  percentage?: boolean;
  fill?: number;
  linewidth?: number;
  lines?: boolean;
  bars?: boolean;
  points?: boolean;
  yaxes?: { format?: string; label?: string | null; decimals?: number | null; min?: number | string | null; max?: number | string | null; logBase?: number; show?: boolean }[];
  seriesOverrides?: Record<string, unknown>[];
  legend?: Record<string, unknown>;
  // Legacy singlestat / text.
  content?: string;
  mode?: string;
  format?: string;
  decimals?: number;
  [key: string]: unknown;
}

export interface GrafanaTarget {
  refId?: string;
  expr?: string;
  legendFormat?: string;
  interval?: string;
  intervalFactor?: number;
  instant?: boolean;
  range?: boolean;
  format?: "time_series" | "table" | "heatmap";
  hide?: boolean;
  step?: number;
  /** A target's own datasource (mixed panels): Prometheus or Loki; others are skipped. */
  datasource?: unknown;
  /** Loki targets: the most log lines a log query returns (Grafana's default 1000). */
  maxLines?: number;
}

export interface Threshold { value: number | null; color: string }

export interface FieldConfig {
  unit?: string;
  decimals?: number | null;
  min?: number | null;
  max?: number | null;
  displayName?: string;
  noValue?: string;
  color?: { mode?: string; fixedColor?: string };
  thresholds?: { mode?: "absolute" | "percentage"; steps?: Threshold[] };
  mappings?: unknown[];
  custom?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface Override {
  matcher: { id: string; options?: unknown };
  properties: { id: string; value?: unknown }[];
}

/** One series of a query's result, lined up on the panel's time axis. */
export interface Frame {
  refId: string;
  labels: Record<string, string>;
  /** The legend: the target's legendFormat applied to the labels, or the series name. */
  name: string;
  /** Unix seconds; shared by every frame of a range query (same start, end and step). */
  timestamps: Float64Array;
  values: (number | null)[];
  /** Native histogram points, parallel to `timestamps`, when the series has any. */
  histograms?: (NativeHistogram | null)[];
  /** A Loki log query's stream: its lines, parallel to `timestamps` (then ascending, with
   * `values` all null); `nanos` keeps each line's exact Unix-nanosecond time. */
  lines?: string[];
  nanos?: string[];
}

export interface PanelContext {
  panel: GrafanaPanel;
  frames: Frame[];
  width: number;
  height: number;
  /** The dashboard's time range, Unix seconds. */
  from: number;
  to: number;
  /** Replaces template variables and $__ macros in a string (titles, legends, text). */
  interpolate(text: string): string;
  /** Sets the dashboard's range (Unix seconds), for a drag across a graph. */
  onZoom?: (from: number, to: number) => void;
  /** The dashboard's shared crosshair / tooltip (graphTooltip 1 / 2); absent when each panel has its own. */
  sync?: { key: string; tooltip: boolean };
}

/**
 * Draws a panel's data into `el` (already sized; the title bar is outside it). Returns a
 * cleanup (destroy charts) or nothing. It must never set innerHTML from dashboard strings.
 */
export type PanelRenderer = (el: HTMLElement, ctx: PanelContext) => (() => void) | void;

/**
 * The state a panel element reports in `data-panel-state`, read by tests and bench/ui.py:
 * "loading", then one of "rendered", "nodata", "error", "unsupported". The dashboard's root
 * element gets `data-dashboard-state="done"` once no panel is loading.
 */
export type PanelState = "loading" | "rendered" | "nodata" | "error" | "unsupported";
