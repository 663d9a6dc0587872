// Running a panel's targets against vigil's Prometheus API as Grafana's Prometheus datasource
// would: interpolated PromQL, the interval/step arithmetic, range aligned to the step,
// legendFormat; results lined up into Frames (types.ts).
import { getJSON, queryInstant, queryRange } from "../api";
import type { Labels } from "../api/types/labels";
import type { MatrixSeries, NativeHistogram } from "../api/types/query";
import { alignMatrix } from "../chart";
import { seriesName } from "../dom";
import { type Scope, calculateInterval, interpolate, rangeScope, targetInterval } from "./interpolate";
import { type QueryAPI, datasourceAPI, datasourceProblem } from "./datasources";
import type { Frame, GrafanaPanel, GrafanaTarget } from "./types";

export interface QueryContext {
  panel: GrafanaPanel;
  scope: Scope;
  /** Unix ms. */
  from: number;
  to: number;
  /** Plot width in pixels, Grafana's resolution when the panel has no maxDataPoints. */
  width: number;
  /** Aborts the panel's requests when their answers are no longer wanted. */
  signal: AbortSignal;
  /** Told of every query sent: what the panel's Inspect → Query shows. */
  onQuery?: (record: QueryRecord) => void;
}

/** One query as it went: the request, how long it took, and what came back. */
export interface QueryRecord {
  query: PlannedQuery;
  /** Its place among the panel's queries (records arrive as the answers do). */
  position: number;
  path: string;
  ms: number;
  series: number;
  error: string | null;
}

/** One query as sent: what tests read back from the requests the page makes. */
export interface PlannedQuery {
  refId: string;
  expr: string;
  instant: boolean;
  start: number;
  end: number;
  step: number;
  legendFormat: string;
  api: QueryAPI;
  /** Loki log queries: the most lines asked for. */
  maxLines: number;
}

/** The queries a panel sends: one per visible target with an expression. */
export function planQueries(ctx: Omit<QueryContext, "signal" | "onQuery">): PlannedQuery[] {
  const panel = ctx.panel;
  const rangeMs = ctx.to - ctx.from;
  const resolution = panel.maxDataPoints || ctx.width || 1000;
  const panelMin = panel.interval ? interpolate(panel.interval, ctx.scope, "query") : "15s";
  const panelInterval = calculateInterval(rangeMs, resolution, panelMin);
  const base: Scope = { ...ctx.scope, ...rangeScope(ctx.from, ctx.to) };
  const out: PlannedQuery[] = [];
  for (const [i, t] of (panel.targets ?? []).entries()) {
    if (t.hide || !t.expr || !t.expr.trim() || datasourceProblem(t.datasource)) continue;
    const start = ctx.from / 1000;
    const end = ctx.to / 1000;
    const minInterval = t.interval ? interpolate(t.interval, base, "query") : null;
    const iv = targetInterval(panelInterval, Math.ceil(end - start), minInterval, t.intervalFactor);
    const scope = { ...base, ...iv.scope };
    const expr = interpolate(t.expr, scope, "query");
    const instant = isInstant(t, panel);
    const step = iv.step;
    const api = datasourceAPI(t.datasource ?? panel.datasource);
    out.push({
      refId: t.refId ?? String.fromCharCode(65 + i),
      expr,
      instant,
      start: Math.floor(start / step) * step,
      end: instant ? end : Math.ceil(end / step) * step,
      step,
      legendFormat: t.legendFormat ? interpolate(t.legendFormat, scope, "text") : "",
      api,
      maxLines: t.maxLines && t.maxLines > 0 ? t.maxLines : DEFAULT_MAX_LINES,
    });
  }
  return out;
}

function isInstant(t: GrafanaTarget, panel: GrafanaPanel): boolean {
  if (t.instant && t.range !== true) return true;
  if (t.format === "table" && t.range !== true && panel.type === "table") return true;
  return false;
}

/**
 * Runs a panel's queries into frames, in target order. Every request is sent at once, as
 * Grafana does: the browser queues what exceeds its connections per host and sends each as
 * a connection frees, whether or not the page's main thread is busy drawing other panels.
 */
export async function runQueries(ctx: QueryContext): Promise<Frame[]> {
  const planned = planQueries(ctx);
  const results = await Promise.all(
    planned.map(async (q, position) => {
      const started = performance.now();
      const path = `${q.api === "loki" ? "/loki" : ""}/api/v1/${q.instant ? "query" : "query_range"}`;
      const record = (series: number, error: string | null): void =>
        ctx.onQuery?.({ query: q, position, path, ms: performance.now() - started, series, error });
      try {
        const frames = await (q.api === "loki" ? lokiFrames(q, path, ctx.signal) : q.instant ? instantFrames(q, ctx.signal) : rangeFrames(q, ctx.signal));
        record(frames.length, null);
        return frames;
      } catch (err) {
        record(0, err instanceof Error ? err.message : String(err));
        throw err;
      }
    }),
  );
  return results.flat();
}

const DEFAULT_MAX_LINES = 1000;

type LokiData =
  | { resultType: "streams"; result: { stream: Labels; values: [string, string][] }[] }
  | { resultType: "matrix"; result: MatrixSeries[] }
  | { resultType: "vector"; result: { metric: Labels; value: [number, string] }[] }
  | { resultType: "scalar"; result: [number, string] };

/** A target on a Loki datasource, as Grafana's Loki datasource sends it: log queries newest
 * first up to maxLines (a stream per frame, lines ascending), metric queries as Prometheus's. */
async function lokiFrames(q: PlannedQuery, path: string, signal: AbortSignal): Promise<Frame[]> {
  const params: Record<string, string> = q.instant
    ? { query: q.expr, time: String(q.end), limit: String(q.maxLines), direction: "backward" }
    : { query: q.expr, start: String(q.start), end: String(q.end), step: String(q.step), limit: String(q.maxLines), direction: "backward" };
  const data = (await getJSON<{ data: LokiData }>(path, params, {}, signal)).data;
  switch (data.resultType) {
    case "streams":
      return data.result.map((s) => {
        const values = [...s.values].sort((a, b) => (BigInt(a[0]) < BigInt(b[0]) ? -1 : BigInt(a[0]) > BigInt(b[0]) ? 1 : 0));
        return {
          refId: q.refId,
          labels: s.stream,
          name: legend(q, s.stream),
          timestamps: Float64Array.from(values, ([t]) => Number(BigInt(t) / 1_000_000n) / 1000),
          values: values.map(() => null),
          lines: values.map(([, line]) => line),
          nanos: values.map(([t]) => t),
        };
      });
    case "matrix": {
      if (!data.result.length) return [];
      const { timestamps, columns } = alignMatrix(data.result, q.start, q.end, q.step);
      return data.result.map((s, i) => ({ refId: q.refId, labels: s.metric, name: legend(q, s.metric), timestamps, values: columns[i] }));
    }
    case "vector":
      return data.result.map((s) => ({ refId: q.refId, labels: s.metric, name: legend(q, s.metric), timestamps: new Float64Array([s.value[0]]), values: [toNumber(s.value[1])] }));
    case "scalar":
      return [{ refId: q.refId, labels: {}, name: q.legendFormat || q.expr, timestamps: new Float64Array([data.result[0]]), values: [toNumber(data.result[1])] }];
  }
}

async function rangeFrames(q: PlannedQuery, signal: AbortSignal): Promise<Frame[]> {
  const data = await queryRange(q.expr, q.start, q.end, q.step, signal);
  if (data.resultType === "scalar" || data.resultType === "string") {
    return [{ refId: q.refId, labels: {}, name: q.legendFormat || q.expr, timestamps: new Float64Array([data.result[0]]), values: [parseFloat(data.result[1])] }];
  }
  const series: MatrixSeries[] = data.resultType === "matrix"
    ? data.result
    : data.result.map((s) => ({ metric: s.metric, values: s.value && [s.value], histograms: s.histogram && [s.histogram] }));
  if (!series.length) return [];
  const { timestamps, columns } = alignMatrix(series, q.start, q.end, q.step);
  return series.map((s, i) => ({
    refId: q.refId,
    labels: s.metric,
    name: legend(q, s.metric),
    timestamps,
    values: columns[i],
    ...(s.histograms ? { histograms: alignHistograms(s.histograms, q) } : {}),
  }));
}

/** A series' histogram points on the query's time axis, null where it has none. */
function alignHistograms(points: [number, NativeHistogram][], q: PlannedQuery): (NativeHistogram | null)[] {
  const n = Math.max(0, Math.floor((q.end - q.start) / q.step + 1e-9) + 1);
  const out: (NativeHistogram | null)[] = new Array(n).fill(null);
  for (const [t, hist] of points) {
    const i = Math.round((t - q.start) / q.step);
    if (i >= 0 && i < n) out[i] = hist;
  }
  return out;
}

async function instantFrames(q: PlannedQuery, signal: AbortSignal): Promise<Frame[]> {
  const data = await queryInstant(q.expr, q.end, signal);
  if (data.resultType === "scalar" || data.resultType === "string") {
    return [{ refId: q.refId, labels: {}, name: q.legendFormat || q.expr, timestamps: new Float64Array([data.result[0]]), values: [toNumber(data.result[1])] }];
  }
  if (data.resultType === "matrix") {
    return data.result.map((s) => {
      const last = s.values?.[s.values.length - 1];
      return { refId: q.refId, labels: s.metric, name: legend(q, s.metric), timestamps: new Float64Array(last ? [last[0]] : []), values: last ? [toNumber(last[1])] : [] };
    });
  }
  return data.result.map((s) => {
    const at = s.value?.[0] ?? s.histogram?.[0] ?? q.end;
    return {
      refId: q.refId,
      labels: s.metric,
      name: legend(q, s.metric),
      timestamps: new Float64Array([at]),
      values: [s.value ? toNumber(s.value[1]) : null],
      ...(s.histogram ? { histograms: [s.histogram[1]] } : {}),
    };
  });
}

function toNumber(v: string): number | null {
  const f = parseFloat(v);
  return Number.isNaN(f) ? null : f;
}

/** legendFormat with `{{label}}` replaced (a missing label gives ""), else the series as Prometheus prints it. */
export function legend(q: Pick<PlannedQuery, "legendFormat" | "expr">, metric: Labels): string {
  const f = q.legendFormat;
  if (f && f !== "__auto") return f.replace(/\{\{\s*(.+?)\s*\}\}/g, (_m, name: string) => metric[name] ?? "");
  if (Object.keys(metric).length === 0) return q.expr;
  return seriesName(metric);
}
