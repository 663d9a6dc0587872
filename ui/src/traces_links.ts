// Where a trace leads: its services' log lines that carry its id (the Logs page over the
// trace's time, a minute either side for clocks and buffering), and a service's dashboard;
// and back: the trace a log line names.
import type { LogRow } from "./logs_streams";

/** The built-in dashboard of RED metrics per service and its service variable. */
export const SERVICES_DASHBOARD = "/d/vigil-services";
const MARGIN_MS = 60_000;

function regexEscape(text: string): string {
  return text.replace(/[\\^$*+?.()|[\]{}]/g, "\\$&");
}

/** `{service_name="a"} |= "id"` (a regex over several services): lines of the trace's services
 * that mention its id, as OTel log bridges and the instrument middleware write it. */
export function traceLogQuery(traceId: string, services: readonly string[]): string {
  const selector =
    services.length === 1
      ? `service_name=${JSON.stringify(services[0])}`
      : services.length
        ? `service_name=~${JSON.stringify(services.map(regexEscape).join("|"))}`
        : 'service_name=~".+"';
  return `{${selector}} |= ${JSON.stringify(traceId)}`;
}

export function logsHref(traceId: string, services: readonly string[], startMs: number, endMs: number): string {
  const params = new URLSearchParams({
    query: traceLogQuery(traceId, services),
    from: String(Math.floor(startMs) - MARGIN_MS),
    to: String(Math.ceil(endMs) + MARGIN_MS),
  });
  return `/logs?${params}`;
}

export function serviceDashboardHref(service: string): string {
  return `${SERVICES_DASHBOARD}?${new URLSearchParams({ "var-service": service })}`;
}

export function traceHref(traceId: string): string {
  return `/traces/${encodeURIComponent(traceId)}`;
}

export function searchHref(service: string): string {
  return `/traces?${new URLSearchParams({ service })}`;
}

const TRACE_KEYS = ["trace_id", "traceid", "traceId", "traceID", "trace.id"];
const HEX_ID = /^(?:[0-9a-f]{16}|[0-9a-f]{32})$/i;
const IN_LINE = /\btrace[._]?id["']?\s*[=:]\s*["']?([0-9a-f]{32}|[0-9a-f]{16})\b/i;

/** The trace id a log line carries: in its structured metadata (OTLP logs, the instrument
 * middleware), its parsed fields or its labels, else written in the line as `trace_id=…`. */
export function traceIdOf(row: LogRow): string | null {
  for (const fields of [row.meta.structuredMetadata, row.meta.parsed, row.labels]) {
    for (const key of TRACE_KEYS) {
      const value = fields?.[key];
      if (value && HEX_ID.test(value)) return value.toLowerCase();
    }
  }
  return IN_LINE.exec(row.line)?.[1].toLowerCase() ?? null;
}
