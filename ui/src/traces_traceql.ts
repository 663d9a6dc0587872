// The Traces page's search fields as one TraceQL spanset filter, and Tempo's search answer as
// table rows. Tags are written as Jaeger's search form takes them (`http.status_code=500
// error=true`) and become TraceQL conditions with typed literals.

export interface SearchFields {
  service: string;
  operation: string;
  tags: string;
  minDuration: string;
  maxDuration: string;
}

export interface Built {
  query: string;
  /** What could not be read, for the user; the query leaves those parts out. */
  problems: string[];
}

const DURATION = /^\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h)$/;
const NUMBER = /^-?\d+(?:\.\d+)?$/;
const TAG = /\s*([^\s=!<>~"]+)\s*(=~|!=|!~|>=|<=|=|>|<)\s*("(?:[^"\\]|\\.)*"|[^\s"]+)/y;
const INTRINSICS = new Set(["name", "status", "statusMessage", "kind", "duration", "rootName", "rootServiceName", "traceDuration"]);
const ENUMS: Record<string, readonly string[]> = {
  status: ["error", "ok", "unset"],
  kind: ["unspecified", "internal", "server", "client", "producer", "consumer"],
};

/** `"a\"b"`: a TraceQL string literal. */
export function quote(text: string): string {
  return JSON.stringify(text);
}

function literal(key: string, raw: string): string {
  if (raw.startsWith('"')) return raw;
  if (ENUMS[key]?.includes(raw)) return raw;
  if ((key === "duration" || key === "traceDuration") && DURATION.test(raw)) return raw;
  if (NUMBER.test(raw) || raw === "true" || raw === "false") return raw;
  return quote(raw);
}

/** `key=value ...` as TraceQL conditions: an unscoped key becomes `.key` (span or resource),
 * intrinsics stay bare, Jaeger's `error=true` is `status=error`. */
export function tagConditions(tags: string): { conditions: string[]; problems: string[] } {
  const conditions: string[] = [];
  const problems: string[] = [];
  TAG.lastIndex = 0;
  let at = 0;
  for (let m = TAG.exec(tags); m; m = TAG.exec(tags)) {
    at = TAG.lastIndex;
    const [, key, op, raw] = m;
    if (key === "error" && op === "=" && raw === "true") {
      conditions.push("status=error");
      continue;
    }
    const scoped = INTRINSICS.has(key) || /^(?:span|resource)?\./.test(key) ? key : `.${key}`;
    conditions.push(`${scoped}${op}${literal(key, raw)}`);
  }
  const rest = tags.slice(at).trim();
  if (rest) problems.push(`Tags: could not read ${quote(rest)}; write key=value, quoting values with spaces.`);
  return { conditions, problems };
}

/** The fields as `{cond && cond ...}`; `{}` (every trace) when all are empty. */
export function buildTraceQL(fields: SearchFields): Built {
  const conditions: string[] = [];
  const problems: string[] = [];
  if (fields.service.trim()) conditions.push(`resource.service.name=${quote(fields.service.trim())}`);
  if (fields.operation.trim()) conditions.push(`name=${quote(fields.operation.trim())}`);
  const tags = tagConditions(fields.tags);
  conditions.push(...tags.conditions);
  problems.push(...tags.problems);
  for (const [label, op, value] of [
    ["Min duration", ">=", fields.minDuration.trim()],
    ["Max duration", "<=", fields.maxDuration.trim()],
  ]) {
    if (!value) continue;
    if (DURATION.test(value)) conditions.push(`duration${op}${value}`);
    else problems.push(`${label}: ${quote(value)} is not a duration such as 250ms, 1.5s or 2m.`);
  }
  return { query: conditions.length ? `{${conditions.join(" && ")}}` : "{}", problems };
}

interface ServiceStats {
  spanCount?: number;
  errorCount?: number;
}
export interface SearchTrace {
  traceID: string;
  rootServiceName?: string;
  rootTraceName?: string;
  startTimeUnixNano?: string;
  durationMs?: number;
  serviceStats?: Record<string, ServiceStats>;
  spanSet?: { matched?: number };
  spanSets?: { matched?: number }[];
}
export interface SearchAnswer {
  traces?: SearchTrace[];
}

export interface TraceRow {
  traceId: string;
  rootService: string;
  rootName: string;
  startMs: number;
  durationMs: number;
  /** Every span of the trace when Tempo's serviceStats are there, else null. */
  spans: number | null;
  errors: number;
  matched: number;
}

/** Tempo's search answer as rows, newest first. Protobuf JSON leaves zero values out (a trace
 * under a millisecond has no durationMs). */
export function traceRows(answer: SearchAnswer): TraceRow[] {
  return (answer.traces ?? [])
    .map((t): TraceRow => {
      const stats = Object.values(t.serviceStats ?? {});
      const sets = t.spanSets ?? (t.spanSet ? [t.spanSet] : []);
      return {
        traceId: t.traceID,
        rootService: t.rootServiceName ?? "",
        rootName: t.rootTraceName ?? "",
        startMs: Number(BigInt(t.startTimeUnixNano ?? "0") / 1_000_000n),
        durationMs: t.durationMs ?? 0,
        spans: stats.length ? stats.reduce((n, s) => n + (s.spanCount ?? 0), 0) : null,
        errors: stats.reduce((n, s) => n + (s.errorCount ?? 0), 0),
        matched: sets.reduce((n, s) => n + (s.matched ?? 0), 0),
      };
    })
    .sort((a, b) => b.startMs - a.startMs);
}
