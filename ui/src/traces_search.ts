// The Traces page's search: service, operation, tags and durations written as a TraceQL query
// (which can then be edited freely), run by Tempo's search API over a recent range — as its
// legacy tags= search while the query is the fields' own and they can say it — the answer as
// a table of traces, newest first. Everything lives in the URL.
import { getJSON, promGet } from "./api";
import { type Child, h, notice, replace } from "./dom";
import { setParams } from "./router";
import { formatNs } from "./traces_model";
import { traceHref } from "./traces_links";
import { tagBrowser } from "./traces_tags";
import { type SearchAnswer, type SearchFields, type TraceRow, buildTraceQL, traceRows } from "./traces_traceql";
import { windowOf } from "./logs_range";
import { dateTime } from "./timezone";

export const RANGES: [string, number][] = [
  ["15m", 900],
  ["1h", 3600],
  ["6h", 21600],
  ["24h", 86400],
  ["7d", 604800],
];
const LIMITS = ["20", "50", "100", "500"];
const FIELDS: [keyof SearchFields, string, string, string][] = [
  ["service", "service", "Service", "all services"],
  ["operation", "operation", "Operation", "all span names"],
  ["tags", "tags", "Tags", "http.response.status_code=500 error=true"],
  ["minDuration", "min", "Min trace duration", "100ms"],
  ["maxDuration", "max", "Max trace duration", "5s"],
];

/** The range select's value for a fixed window from the URL (`from`, `to` in Unix ms, as a
 * dashboard link keeping its time range sends). */
const WINDOW = "window";

export function rangeSeconds(name: string): number {
  return RANGES.find(([n]) => n === name)?.[1] ?? 3600;
}

/** A Grafana dashboard link carrying its variables names the service as `var-service`. */
function serviceParam(params: URLSearchParams): string {
  const fromVar = params.get("var-service") ?? "";
  return params.get("service") ?? (fromVar.startsWith("$") ? "" : fromVar);
}

/** How to send traces here: OTLP/HTTP to the collector port (--otlp.listen-address, read from
 * the server's flags) when it is on, and always to this port's /otlp/v1/traces. */
async function howToSend(): Promise<HTMLElement> {
  let listen = "";
  try {
    listen = (await promGet<Record<string, string>>("/api/v1/status/flags"))["otlp.listen-address"] ?? "";
  } catch {
    listen = "";
  }
  const port = /:(\d+)$/.exec(listen)?.[1];
  const host = listen.replace(/:\d+$/, "");
  const loopback = /^(127\.|localhost$|\[::1\]$)/.test(host);
  const collector = port ? `http://${!host || host === "0.0.0.0" || host === "[::]" || loopback ? location.hostname : host}:${port}` : "";
  const here = `${location.origin}/otlp/v1/traces`;
  return notice(
    "info",
    h("p", null, h("b", null, "No traces yet. "), "Send spans with OpenTelemetry over OTLP/HTTP (protobuf or JSON) to ", h("code", null, collector ? `${collector}/v1/traces` : here), ":"),
    h(
      "pre",
      { class: "traces-howto" },
      collector ? `export OTEL_EXPORTER_OTLP_ENDPOINT=${collector}\n` : `export OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=${here}\n`,
      "export OTEL_SERVICE_NAME=my-app\n",
      "opentelemetry-instrument python app.py                     # Python\n",
      "java -javaagent:opentelemetry-javaagent.jar -jar app.jar   # Java (OTel agent)",
    ),
    collector ? h("p", null, "Or to this port: ", h("code", null, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=${here}`), ".") : null,
    loopback ? h("p", null, `The OTLP port listens on ${listen} only; for apps on other hosts or containers start vigil with `, h("code", null, "--otlp.listen-address=0.0.0.0:4318"), ".") : null,
  );
}

function resultsTable(rows: TraceRow[]): HTMLElement {
  const longest = Math.max(1, ...rows.map((r) => r.durationMs));
  return h(
    "table",
    { class: "data traces-table" },
    h("caption", { class: "muted" }, rows.length === 1 ? "1 trace" : `${rows.length} traces`),
    h("thead", null, h("tr", null, ["Trace ID", "Root service", "Root span", "Start", "Duration", "Spans"].map((c) => h("th", { scope: "col" }, c)))),
    h(
      "tbody",
      null,
      rows.map((r) => {
        const bar = h("span", { class: "traces-duration-bar", "aria-hidden": "true" });
        bar.style.width = `${((r.durationMs / longest) * 100).toFixed(1)}%`;
        return h(
          "tr",
          { "data-trace-id": r.traceId },
          h("td", null, h("a", { class: "mono", href: traceHref(r.traceId) }, r.traceId)),
          h("td", null, r.rootService),
          h("td", null, r.rootName),
          h("td", null, dateTime(r.startMs)),
          h("td", { class: "num traces-duration" }, formatNs(r.durationMs * 1_000_000), bar),
          h(
            "td",
            { class: "num" },
            r.spans === null ? h("span", { title: `${r.matched} matched the query` }, "—") : String(r.spans),
            r.errors ? [" ", h("span", { class: "pill err" }, r.errors === 1 ? "1 error" : `${r.errors} errors`)] : null,
          ),
        );
      }),
    ),
  );
}

function datalist(id: string, values: string[]): HTMLDataListElement {
  return h("datalist", { id }, values.map((v) => h("option", { value: v })));
}

/** The search form and its results in `root`; `params` are the page's URL parameters. */
export function searchView(root: HTMLElement, params: URLSearchParams): () => void {
  const inputs = {} as Record<keyof SearchFields, HTMLInputElement>;
  const controls: Child[] = [];
  for (const [key, param, label, placeholder] of FIELDS) {
    const value = key === "service" ? serviceParam(params) : params.get(param) ?? "";
    const input = h("input", { type: "text", name: param, placeholder, spellcheck: "false", value, autocomplete: "off" });
    if (key === "service" || key === "operation") input.setAttribute("list", `traces-${key}-list`);
    inputs[key] = input;
    controls.push(h("label", { class: `traces-field traces-field-${param}` }, h("span", null, label), input));
  }
  const fixed = windowOf(params);
  const range = h(
    "select",
    { name: "range" },
    fixed ? h("option", { value: WINDOW, selected: true }, `${dateTime(fixed[0])} to ${dateTime(fixed[1])}`) : null,
    RANGES.map(([name]) => h("option", { value: name, selected: !fixed && name === (params.get("range") ?? "1h") }, `Last ${name}`)),
  );
  const searchWindow = (): [number, number] => {
    if (fixed && range.value === WINDOW) return [Math.floor(fixed[0] / 1000), Math.ceil(fixed[1] / 1000)];
    const end = Math.floor(Date.now() / 1000);
    return [end - rangeSeconds(range.value), end];
  };
  const limit = h("select", { name: "limit" }, LIMITS.map((n) => h("option", { value: n, selected: n === (params.get("limit") ?? "20") }, n)));
  const fields = (): SearchFields => ({
    service: inputs.service.value,
    operation: inputs.operation.value,
    tags: inputs.tags.value,
    minDuration: inputs.minDuration.value,
    maxDuration: inputs.maxDuration.value,
  });
  const query = h("input", {
    type: "text",
    class: "mono traces-query",
    name: "q",
    spellcheck: "false",
    autocomplete: "off",
    "aria-describedby": "traces-query-help",
    value: params.get("q") ?? buildTraceQL(fields()).query,
  });
  const problems = h("div", { class: "traces-problems", "aria-live": "polite" });
  const services = datalist("traces-service-list", []);
  const operations = datalist("traces-operation-list", []);
  const howto = h("div");
  const results = h("div", { class: "traces-results", "data-state": "idle", "aria-live": "polite" });
  let generation = 0;

  const rebuild = (): void => {
    const built = buildTraceQL(fields());
    query.value = built.query;
    replace(problems, built.problems.map((p) => notice("warn", p)));
  };
  for (const input of Object.values(inputs)) input.addEventListener("input", rebuild);

  async function loadOperations(): Promise<void> {
    const service = inputs.service.value.trim();
    if (!service) return replace(operations);
    try {
      const answer = await getJSON<{ data: string[] | null }>(`/jaeger/api/services/${encodeURIComponent(service)}/operations`);
      replace(operations, (answer.data ?? []).sort().map((v) => h("option", { value: v })));
    } catch {
      replace(operations);
    }
  }
  inputs.service.addEventListener("change", () => void loadOperations());

  async function loadServices(): Promise<void> {
    try {
      const answer = await getJSON<{ data: string[] | null }>("/jaeger/api/services");
      const names = (answer.data ?? []).sort();
      replace(services, names.map((v) => h("option", { value: v })));
      replace(howto, names.length ? null : await howToSend());
    } catch (err) {
      replace(howto, notice("error", `Could not list services: ${err instanceof Error ? err.message : String(err)}`));
    }
  }

  async function run(push: boolean): Promise<void> {
    const mine = ++generation;
    const q = query.value.trim() || "{}";
    const next = new URLSearchParams();
    for (const [key, param] of FIELDS) if (inputs[key].value.trim()) next.set(param, inputs[key].value.trim());
    next.set("q", q);
    if (fixed && range.value === WINDOW) {
      next.set("from", String(fixed[0]));
      next.set("to", String(fixed[1]));
    } else next.set("range", range.value);
    next.set("limit", limit.value);
    setParams(next, push);
    results.dataset.state = "loading";
    const [start, end] = searchWindow();
    try {
      const built = buildTraceQL(fields());
      const filter = built.legacy && q === built.query ? built.legacy : { q };
      const answer = await getJSON<SearchAnswer>("/tempo/api/search", {
        ...filter,
        limit: limit.value,
        start: String(start),
        end: String(end),
      });
      if (mine !== generation) return;
      const rows = traceRows(answer);
      replace(results, rows.length ? resultsTable(rows) : notice("info", "No traces match this query in this time range."));
      results.dataset.state = rows.length ? "done" : "empty";
    } catch (err) {
      if (mine !== generation) return;
      replace(results, notice("error", err instanceof Error ? err.message : String(err)));
      results.dataset.state = "error";
    }
  }

  const form = h(
    "form",
    { class: "traces-form", role: "search", "aria-label": "Search traces" },
    h("div", { class: "traces-fields" }, controls, h("label", { class: "traces-field" }, h("span", null, "Time range"), range), h("label", { class: "traces-field" }, h("span", null, "Limit"), limit)),
    h(
      "div",
      { class: "toolbar" },
      h("label", { class: "traces-field traces-field-q" }, h("span", null, "TraceQL"), query),
      h("button", { type: "submit", class: "primary" }, "Search"),
    ),
    h("small", { id: "traces-query-help", class: "muted" }, "Written from the fields above; edit it freely (the fields rewrite it when changed). ", h("code", null, "{}"), " finds every trace."),
    problems,
    services,
    operations,
  );
  const tags = tagBrowser(searchWindow, (tag) => {
    inputs.tags.value = `${inputs.tags.value.trim()} ${tag}`.trim();
    rebuild();
    void run(true);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void run(true);
  });
  range.addEventListener("change", () => void run(true));
  root.append(form, tags, howto, results);
  void loadServices();
  void loadOperations();
  void run(false);
  return () => {
    generation++;
  };
}
