// Where a trace leads: its services' log lines that carry its id (the Logs page over the
// trace's time, a minute either side for clocks and buffering), and a service's dashboard.

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
