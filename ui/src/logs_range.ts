// The Logs page's time range: a preset ending now, or a fixed window a link asks for (the
// Traces page links a trace's logs over the trace's own time).

export const RANGES: [string, number][] = [
  ["5m", 300],
  ["15m", 900],
  ["1h", 3600],
  ["6h", 21600],
  ["24h", 86400],
];

/** The range `name` names as [start, end] in Unix nanoseconds, ending now. */
export function rangeNs(name: string, nowMs: number = Date.now()): [bigint, bigint] {
  const seconds = RANGES.find(([n]) => n === name)?.[1] ?? 3600;
  const end = BigInt(nowMs) * 1_000_000n;
  return [end - BigInt(seconds) * 1_000_000_000n, end];
}

/** A fixed window a link asks for (`from` and `to` in Unix ms, as a trace's time span), or null. */
export function windowOf(params: URLSearchParams): [number, number] | null {
  const from = Number(params.get("from"));
  const to = Number(params.get("to"));
  return params.has("from") && params.has("to") && Number.isFinite(from) && Number.isFinite(to) && from < to ? [from, to] : null;
}
