// A trace as the Traces page draws it: Tempo's trace-by-id answer (OTLP JSON, ids in hex or
// in protobuf-JSON's base64) read into spans with text attributes, then laid out as a tree in
// start order, each span with its depth.

export type Attr = [key: string, value: string];

export interface SpanEvent {
  timeNs: bigint;
  name: string;
  attributes: Attr[];
}

export interface SpanLink {
  traceId: string;
  spanId: string;
  attributes: Attr[];
}

export type StatusCode = "unset" | "ok" | "error";

export interface TraceSpan {
  traceId: string;
  spanId: string;
  /** Empty for a root span. */
  parentId: string;
  name: string;
  service: string;
  kind: string;
  status: StatusCode;
  statusMessage: string;
  startNs: bigint;
  endNs: bigint;
  attributes: Attr[];
  resource: Attr[];
  scope: string;
  events: SpanEvent[];
  links: SpanLink[];
}

export interface SpanRow {
  span: TraceSpan;
  depth: number;
  /** A span whose parent is not in the trace (not received, or dropped). */
  orphan: boolean;
}

export interface Trace {
  traceId: string;
  rows: SpanRow[];
  startNs: bigint;
  endNs: bigint;
  /** In order of first appearance in the tree, so colours follow the call order. */
  services: string[];
  errors: number;
  root: TraceSpan | null;
}

interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  bytesValue?: string;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: { values?: KeyValue[] };
}
interface KeyValue {
  key: string;
  value?: AnyValue;
}
interface OtlpEvent {
  timeUnixNano?: string | number;
  name?: string;
  attributes?: KeyValue[];
}
interface OtlpLink {
  traceId?: string;
  spanId?: string;
  attributes?: KeyValue[];
}
interface OtlpSpan {
  traceId?: string;
  spanId?: string;
  parentSpanId?: string;
  name?: string;
  kind?: number | string;
  startTimeUnixNano?: string | number;
  endTimeUnixNano?: string | number;
  attributes?: KeyValue[];
  events?: OtlpEvent[];
  links?: OtlpLink[];
  status?: { code?: number | string; message?: string };
}
interface OtlpScopeSpans {
  scope?: { name?: string; version?: string };
  instrumentationLibrary?: { name?: string; version?: string };
  spans?: OtlpSpan[];
}
interface OtlpResourceSpans {
  resource?: { attributes?: KeyValue[] };
  scopeSpans?: OtlpScopeSpans[];
  instrumentationLibrarySpans?: OtlpScopeSpans[];
}
/** Tempo's v2 answer wraps the trace (`{trace: {resourceSpans}}`); v1 answers `{batches}`. */
export interface TraceAnswer {
  trace?: { resourceSpans?: OtlpResourceSpans[]; batches?: OtlpResourceSpans[] };
  resourceSpans?: OtlpResourceSpans[];
  batches?: OtlpResourceSpans[];
}

const KINDS = ["unspecified", "internal", "server", "client", "producer", "consumer"];

/** An id as lowercase hex: hex stays, protobuf-JSON's base64 of `bytes` bytes is converted. */
export function hexId(id: string | undefined, bytes: number): string {
  if (!id) return "";
  if (id.length === bytes * 2 && /^[0-9a-f]+$/i.test(id)) return id.toLowerCase();
  try {
    const raw = atob(id);
    if (raw.length === bytes) return Array.from(raw, (c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join("");
  } catch {
    // not base64: shown as sent
  }
  return id.toLowerCase();
}

function isZero(id: string): boolean {
  return /^0*$/.test(id);
}

/** An attribute value as one line of text: arrays and maps in a JSON-like spelling. */
export function valueText(value: AnyValue | undefined): string {
  if (!value) return "";
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return String(value.boolValue);
  if (value.intValue !== undefined) return String(value.intValue);
  if (value.doubleValue !== undefined) return String(value.doubleValue);
  if (value.bytesValue !== undefined) return value.bytesValue;
  if (value.arrayValue) return `[${(value.arrayValue.values ?? []).map(quoted).join(", ")}]`;
  if (value.kvlistValue) return `{${(value.kvlistValue.values ?? []).map((kv) => `${kv.key}: ${quoted(kv.value)}`).join(", ")}}`;
  return "";
}

function quoted(value: AnyValue | undefined): string {
  return value?.stringValue !== undefined ? JSON.stringify(value.stringValue) : valueText(value);
}

function attrs(list: KeyValue[] | undefined): Attr[] {
  return (list ?? []).map((kv) => [kv.key, valueText(kv.value)]);
}

function nanos(value: string | number | undefined): bigint {
  try {
    return BigInt(value ?? 0);
  } catch {
    return 0n;
  }
}

function kindName(kind: number | string | undefined): string {
  if (typeof kind === "number") return KINDS[kind] ?? "unspecified";
  return (kind ?? "").replace(/^SPAN_KIND_/, "").toLowerCase() || "unspecified";
}

function statusOf(code: number | string | undefined): StatusCode {
  if (code === 2 || code === "STATUS_CODE_ERROR") return "error";
  if (code === 1 || code === "STATUS_CODE_OK") return "ok";
  return "unset";
}

/** Every span of a trace-by-id answer, in the order sent. */
export function spansOf(answer: TraceAnswer): TraceSpan[] {
  const batches = answer.trace?.resourceSpans ?? answer.trace?.batches ?? answer.resourceSpans ?? answer.batches ?? [];
  const out: TraceSpan[] = [];
  for (const batch of batches) {
    const resource = attrs(batch.resource?.attributes);
    const service = resource.find(([k]) => k === "service.name")?.[1] || "unknown_service";
    for (const scoped of batch.scopeSpans ?? batch.instrumentationLibrarySpans ?? []) {
      const lib = scoped.scope ?? scoped.instrumentationLibrary;
      const scope = [lib?.name, lib?.version].filter(Boolean).join(" ");
      for (const s of scoped.spans ?? []) {
        const parentId = hexId(s.parentSpanId, 8);
        out.push({
          traceId: hexId(s.traceId, 16),
          spanId: hexId(s.spanId, 8),
          parentId: isZero(parentId) ? "" : parentId,
          name: s.name ?? "",
          service,
          kind: kindName(s.kind),
          status: statusOf(s.status?.code),
          statusMessage: s.status?.message ?? "",
          startNs: nanos(s.startTimeUnixNano),
          endNs: nanos(s.endTimeUnixNano),
          attributes: attrs(s.attributes),
          resource,
          scope,
          events: (s.events ?? []).map((e) => ({ timeNs: nanos(e.timeUnixNano), name: e.name ?? "", attributes: attrs(e.attributes) })),
          links: (s.links ?? []).map((l) => ({ traceId: hexId(l.traceId, 16), spanId: hexId(l.spanId, 8), attributes: attrs(l.attributes) })),
        });
      }
    }
  }
  return out;
}

const byStart = (a: TraceSpan, b: TraceSpan): number => (a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : 0);

/** The spans as a tree in start order: each root (a span without a parent, then orphans)
 * followed by its descendants depth first. A span reached twice (a cycle of bad parent ids)
 * is listed once. */
export function traceOf(traceId: string, spans: TraceSpan[]): Trace {
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string, TraceSpan[]>();
  const roots: TraceSpan[] = [];
  for (const span of spans) {
    if (span.parentId && ids.has(span.parentId) && span.parentId !== span.spanId) {
      const list = children.get(span.parentId);
      if (list) list.push(span);
      else children.set(span.parentId, [span]);
    } else roots.push(span);
  }
  for (const list of children.values()) list.sort(byStart);
  roots.sort((a, b) => Number(Boolean(a.parentId)) - Number(Boolean(b.parentId)) || byStart(a, b));

  const rows: SpanRow[] = [];
  const seen = new Set<TraceSpan>();
  const stack: [TraceSpan, number][] = roots.map((s): [TraceSpan, number] => [s, 0]).reverse();
  while (stack.length) {
    const [span, depth] = stack.pop() as [TraceSpan, number];
    if (seen.has(span)) continue;
    seen.add(span);
    rows.push({ span, depth, orphan: depth === 0 && span.parentId !== "" });
    const kids = children.get(span.spanId) ?? [];
    for (let i = kids.length - 1; i >= 0; i--) stack.push([kids[i], depth + 1]);
  }
  for (const span of spans) if (!seen.has(span)) rows.push({ span, depth: 0, orphan: true });

  let startNs = 0n;
  let endNs = 0n;
  spans.forEach((s, i) => {
    if (i === 0 || s.startNs < startNs) startNs = s.startNs;
    if (i === 0 || s.endNs > endNs) endNs = s.endNs;
  });
  const services: string[] = [];
  for (const { span } of rows) if (!services.includes(span.service)) services.push(span.service);
  return {
    traceId,
    rows,
    startNs,
    endNs,
    services,
    errors: spans.filter((s) => s.status === "error").length,
    root: rows.find((r) => !r.orphan)?.span ?? rows[0]?.span ?? null,
  };
}

/** Which rows show when the rows at `folded` hide their descendants (the rows after them that
 * are deeper), a fold inside a folded subtree kept for when its parent opens. */
export function shownRows(depths: readonly number[], folded: ReadonlySet<number>): boolean[] {
  let cut = Infinity;
  return depths.map((depth, i) => {
    if (depth <= cut) cut = Infinity;
    const shown = depth <= cut;
    if (shown && folded.has(i)) cut = depth;
    return shown;
  });
}

/** A span duration in nanoseconds as people read it: 850µs, 12.3ms, 2.51s, 1m 3s. */
export function formatNs(ns: number): string {
  const abs = Math.abs(ns);
  if (abs < 1_000) return `${ns}ns`;
  if (abs < 1_000_000) return `${trim(ns / 1_000)}µs`;
  if (abs < 1_000_000_000) return `${trim(ns / 1_000_000)}ms`;
  if (abs < 60_000_000_000) return `${trim(ns / 1_000_000_000)}s`;
  const s = Math.round(ns / 1_000_000_000);
  return s < 3600 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

function trim(n: number): string {
  return String(Number(n.toPrecision(3)));
}
