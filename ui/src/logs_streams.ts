// A log query's streams answer, and its entries as one list of rows newest first.

/** Per entry, what Loki's categorize-labels encoding adds beside the line. */
export interface EntryMeta {
  structuredMetadata?: Record<string, string>;
  parsed?: Record<string, string>;
}

export interface LogStream {
  stream: Record<string, string>;
  values: [string, string, EntryMeta?][];
}

export interface LogRow {
  /** Unix nanoseconds, as the API's decimal string. */
  ns: string;
  line: string;
  labels: Record<string, string>;
  meta: EntryMeta;
}

function newerFirst(a: LogRow, b: LogRow): number {
  return a.ns.length !== b.ns.length ? b.ns.length - a.ns.length : a.ns < b.ns ? 1 : a.ns > b.ns ? -1 : 0;
}

/** Every stream's entries in one list, newest first, at most `limit` of them. */
export function mergeStreams(streams: readonly LogStream[], limit: number): LogRow[] {
  const rows: LogRow[] = [];
  for (const s of streams) {
    for (const [ns, line, meta] of s.values) rows.push({ ns, line, labels: s.stream, meta: meta ?? {} });
  }
  return rows.sort(newerFirst).slice(0, limit);
}

/** "1 line", "2 lines". */
export function lineCount(n: number): string {
  return `${n} ${n === 1 ? "line" : "lines"}`;
}
