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
  /** The same search in Tempo's legacy parameters (tags, minDuration, maxDuration), or null. */
  legacy: Record<string, string> | null;
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

/** A tag as Tempo's legacy search (`tags=` in logfmt) takes it: equality on an unscoped key. */
type LegacyTag = [key: string, value: string];

const LEGACY_INTRINSICS: Record<string, string> = { name: "name", status: "status", kind: "span.kind" };

function legacyTag(key: string, op: string, raw: string): LegacyTag | null {
  if (op !== "=" || /^(?:span|resource)?\./.test(key)) return null;
  if (INTRINSICS.has(key) && !(key in LEGACY_INTRINSICS)) return null;
  return [LEGACY_INTRINSICS[key] ?? key, raw.startsWith('"') ? (JSON.parse(raw) as string) : raw];
}

interface Condition {
  traceql: string;
  legacy: LegacyTag | null;
}

/** `key=value ...` as TraceQL conditions: an unscoped key becomes `.key` (span or resource),
 * intrinsics stay bare, Jaeger's `error=true` is `status=error`. */
function tagConditions(tags: string): { conditions: Condition[]; problems: string[] } {
  const conditions: Condition[] = [];
  const problems: string[] = [];
  TAG.lastIndex = 0;
  let at = 0;
  for (let m = TAG.exec(tags); m; m = TAG.exec(tags)) {
    at = TAG.lastIndex;
    const [, key, op, raw] = m;
    if (key === "error" && op === "=" && raw === "true") {
      conditions.push({ traceql: "status=error", legacy: ["error", "true"] });
      continue;
    }
    const scoped = INTRINSICS.has(key) || /^(?:span|resource)?\./.test(key) ? key : `.${key}`;
    conditions.push({ traceql: `${scoped}${op}${literal(key, raw)}`, legacy: legacyTag(key, op, raw) });
  }
  const rest = tags.slice(at).trim();
  if (rest) problems.push(`Tags: could not read ${quote(rest)}; write key=value, quoting values with spaces.`);
  return { conditions, problems };
}

/** `name=value` as the Tags field and logfmt take it, the value quoted when it has spaces,
 * quotes or `=`. */
export function tagText(name: string, value: string): string {
  return `${name}=${/^[^\s"=]+$/.test(value) ? value : quote(value)}`;
}

function logfmt(tags: LegacyTag[]): string {
  return tags.map(([k, v]) => tagText(k, v)).join(" ");
}

/** The fields as `{cond && cond ...}` (`{}`, every trace, when all are empty), and the same
 * search as Tempo's legacy parameters when it can be said with them (equalities only). The
 * durations are the whole trace's, as the legacy minDuration and maxDuration are. */
export function buildTraceQL(fields: SearchFields): Built {
  const conditions: Condition[] = [];
  const problems: string[] = [];
  const service = fields.service.trim();
  const operation = fields.operation.trim();
  if (service) conditions.push({ traceql: `resource.service.name=${quote(service)}`, legacy: ["service.name", service] });
  if (operation) conditions.push({ traceql: `name=${quote(operation)}`, legacy: ["name", operation] });
  const tags = tagConditions(fields.tags);
  conditions.push(...tags.conditions);
  problems.push(...tags.problems);
  const legacy: Record<string, string> = {};
  for (const [label, param, op, value] of [
    ["Min trace duration", "minDuration", ">=", fields.minDuration.trim()],
    ["Max trace duration", "maxDuration", "<=", fields.maxDuration.trim()],
  ]) {
    if (!value) continue;
    if (!DURATION.test(value)) {
      problems.push(`${label}: ${quote(value)} is not a duration such as 250ms, 1.5s or 2m.`);
      continue;
    }
    conditions.push({ traceql: `traceDuration${op}${value}`, legacy: null });
    legacy[param] = value;
  }
  const legacyTags = conditions.filter((c) => !c.traceql.startsWith("traceDuration")).map((c) => c.legacy);
  if (legacyTags.length) legacy.tags = logfmt(legacyTags.filter((t): t is LegacyTag => t !== null));
  return {
    query: conditions.length ? `{${conditions.map((c) => c.traceql).join(" && ")}}` : "{}",
    legacy: legacyTags.every((t) => t !== null) ? legacy : null,
    problems,
  };
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
