// The Logs page: a LogQL query over a recent time range, answered by vigil's Loki API, its lines
// newest first. The query and range live in the URL, so a search can be shared as a link.
import "./logs.css";
import { getJSON } from "./api";
import { h, notice, replace } from "./dom";
import { LogLabelSources, logqlCompleter } from "./logs_complete";
import { labelBrowser } from "./logs_labels";
import { lineFilterLiterals, withMatcher } from "./logs_logql";
import { logRow } from "./logs_rows";
import { type LogStream, lineCount, mergeStreams } from "./logs_streams";
import { RANGES, rangeNs, windowOf } from "./logs_range";
import { type Tail, startTail } from "./logs_tail";
import { loadVolume } from "./logs_volume";
import { editor } from "./query/editor";
import { type Route, setParams } from "./router";
import { dateTime } from "./timezone";

export const DEFAULT_LOG_QUERY = '{service_name=~".+"}';
const DEFAULT_RANGE = "1h";
/** The range select's value for a fixed window from the URL. */
const WINDOW = "window";
/** Lines asked for and shown: Loki's default max_entries_limit_per_query is 5000. */
const LIMIT = 1000;

interface StreamsData {
  resultType: string;
  result: LogStream[];
}

export function logsPage(root: HTMLElement, route: Route): () => void {
  const fixed = windowOf(route.params);
  const initialRange = fixed ? WINDOW : route.params.get("range") ?? DEFAULT_RANGE;
  const range = h(
    "select",
    { "aria-label": "Time range" },
    fixed ? h("option", { value: WINDOW, selected: true }, `${dateTime(fixed[0])} to ${dateTime(fixed[1])}`) : null,
    RANGES.map(([name]) => h("option", { value: name, selected: name === initialRange }, `Last ${name}`)),
  );
  const windowNs = (): [bigint, bigint] =>
    fixed && range.value === WINDOW ? [BigInt(fixed[0]) * 1_000_000n, BigInt(fixed[1]) * 1_000_000n] : rangeNs(range.value);
  const sources = new LogLabelSources(windowNs);
  const input = editor({
    complete: logqlCompleter(sources),
    value: route.params.get("query") ?? DEFAULT_LOG_QUERY,
    label: "LogQL query",
    placeholder: "LogQL query (press Shift+Enter for newlines)",
    onRun: () => void run(true),
  });
  const volume = h("div", { class: "logs-volume-area" });
  const results = h("div", { class: "logs-results", "data-state": "idle", "aria-live": "polite" });
  let generation = 0;

  let tail: Tail | null = null;
  const live = h("button", { type: "button", "aria-pressed": "false" }, "Live");
  const pause = h("button", { type: "button", "aria-pressed": "false", hidden: true }, "Pause");

  function stopTail(): void {
    tail?.stop();
    tail = null;
    live.setAttribute("aria-pressed", "false");
    pause.hidden = true;
  }

  live.addEventListener("click", () => {
    if (tail) {
      stopTail();
      void run(false);
      return;
    }
    ++generation;
    const query = input.value().trim() || DEFAULT_LOG_QUERY;
    tail = startTail(results, query, lineFilterLiterals(query));
    live.setAttribute("aria-pressed", "true");
    pause.hidden = false;
    pause.setAttribute("aria-pressed", "false");
    pause.textContent = "Pause";
  });
  pause.addEventListener("click", () => {
    const paused = pause.getAttribute("aria-pressed") !== "true";
    tail?.setPaused(paused);
    pause.setAttribute("aria-pressed", String(paused));
    pause.textContent = paused ? "Resume" : "Pause";
  });

  async function run(push: boolean): Promise<void> {
    stopTail();
    input.close();
    const mine = ++generation;
    const query = input.value().trim() || DEFAULT_LOG_QUERY;
    const params = new URLSearchParams(location.search);
    params.set("query", query);
    if (range.value === WINDOW) params.delete("range");
    else {
      params.set("range", range.value);
      params.delete("from");
      params.delete("to");
    }
    setParams(params, push);
    results.dataset.state = "loading";
    const [start, end] = windowNs();
    const current = (): boolean => mine === generation;
    // The volume counts every line of the range: asked once the lines have arrived, so the
    // first page never waits behind it, and counted by the server while the rows are drawn.
    let volumeAsked = false;
    const askVolume = (): void => {
      if (volumeAsked) return;
      volumeAsked = true;
      void loadVolume(volume, query, Number(start / 1_000_000_000n), Number(end / 1_000_000_000n), current);
    };
    try {
      const data = await getJSON<{ data: StreamsData }>(
        "/loki/api/v1/query_range",
        { query, start: String(start), end: String(end), limit: String(LIMIT), direction: "backward" },
        { "X-Loki-Response-Encoding-Flags": "categorize-labels" },
      );
      if (mine !== generation) return;
      askVolume();
      if (data.data.resultType !== "streams") {
        replace(results, notice("warn", "This is a metric query; the Logs page shows log queries. Try it on the Query page."));
        results.dataset.state = "error";
        return;
      }
      const rows = mergeStreams(data.data.result, LIMIT);
      const literals = lineFilterLiterals(query);
      replace(
        results,
        rows.length
          ? [
              h("p", { class: "muted logs-count" }, rows.length === LIMIT ? `The newest ${LIMIT} lines` : lineCount(rows.length)),
              h("div", { class: "log-rows" }, rows.map((row) => logRow(row, literals))),
            ]
          : notice("info", "No log lines match this query in this time range."),
      );
      results.dataset.state = rows.length ? "done" : "empty";
    } catch (err) {
      if (mine !== generation) return;
      askVolume();
      replace(results, notice("error", err instanceof Error ? err.message : String(err)));
      results.dataset.state = "error";
    }
  }

  const labels = labelBrowser(
    windowNs,
    (name, value) => {
      input.setValue(withMatcher(input.value().trim() || DEFAULT_LOG_QUERY, name, value));
      void run(true);
    },
  );
  const form = h(
    "form",
    { class: "toolbar logs-form", role: "search" },
    input.element,
    range,
    h("button", { type: "submit", class: "primary" }, "Run"),
    live,
    pause,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void run(true);
  });
  range.addEventListener("change", () => {
    sources.clear();
    void run(true);
    void labels.reload();
  });
  root.append(h("h1", null, "Logs"), form, labels.el, volume, results);
  void run(false);
  void labels.reload();
  return () => {
    generation++;
    stopTail();
  };
}
