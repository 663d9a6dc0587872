// A dashboard panel's menu, as Grafana's: View (full screen), Open in Query, Inspect → Data (the
// series the queries returned) and Query (the PromQL after interpolation, the request, its
// timing), Copy link. Every string from the dashboard or the data stays text.
import { h, replace } from "../dom";
import { formatDuration } from "../duration";
import { formatTime } from "../query/time";
import { dateTime } from "../timezone";
import type { PlannedQuery, QueryRecord } from "./queries";
import type { TimeRange } from "./time";
import type { Frame } from "./types";

/** What a panel's last run left for Inspect. */
export interface Inspection {
  frames: Frame[];
  queries: QueryRecord[];
}

export interface MenuActions {
  view(): void;
  /** The Query page's URL for the panel's queries as they are now. */
  queryHref(): string;
  inspect(tab: InspectTab): void;
  copyLink(): void;
}

export type InspectTab = "data" | "query";

/** The Query page (Prometheus's graph-page URL: g0.expr, g0.tab, g0.range_input, g0.end_input) for `queries` over `range`. */
export function queryHref(queries: PlannedQuery[], range: TimeRange): string {
  const p = new URLSearchParams();
  queries.forEach((q, i) => {
    p.set(`g${i}.expr`, q.expr);
    p.set(`g${i}.tab`, q.instant ? "1" : "0");
    p.set(`g${i}.range_input`, formatDuration(Math.max(1000, range.to - range.from)));
    if (range.raw.to !== "now") p.set(`g${i}.end_input`, formatTime(range.to / 1000));
  });
  return `/query?${p.toString()}`;
}

/** The ⋮ button and its menu; it closes on a choice, Escape or a click elsewhere. */
export function panelMenu(title: string, actions: MenuActions): HTMLElement {
  const list = h("div", { class: "panel-menu-list", role: "menu", "aria-label": `Menu of ${title || "the panel"}`, hidden: true });
  const button = h("button", { type: "button", class: "panel-menu-button", "aria-haspopup": "menu", "aria-expanded": "false", "aria-label": "Panel menu", title: "Menu" }, "⋮");
  const close = (): void => {
    list.hidden = true;
    button.setAttribute("aria-expanded", "false");
    document.removeEventListener("pointerdown", outside, true);
  };
  const outside = (event: Event): void => {
    if (!box.contains(event.target as Node)) close();
  };
  const item = (text: string, run: () => void): HTMLButtonElement =>
    h("button", { type: "button", role: "menuitem", onclick: () => { close(); run(); } }, text);
  const queryLink = h("a", { role: "menuitem", href: "/query", onclick: () => close() }, "Open in Query");
  list.append(
    item("View", actions.view),
    queryLink,
    item("Inspect data", () => actions.inspect("data")),
    item("Inspect query", () => actions.inspect("query")),
    item("Copy link", actions.copyLink),
  );
  button.addEventListener("click", () => {
    if (!list.hidden) return close();
    queryLink.href = actions.queryHref();
    // Fixed to the window, so a short panel (overflow hidden) does not cut the menu off.
    const r = button.getBoundingClientRect();
    list.style.top = `${Math.round(r.bottom)}px`;
    list.style.left = `${Math.round(Math.max(0, r.right - 160))}px`;
    list.hidden = false;
    button.setAttribute("aria-expanded", "true");
    document.addEventListener("pointerdown", outside, true);
    (list.querySelector("[role=menuitem]") as HTMLElement | null)?.focus();
  });
  const box = h("div", {
    class: "panel-menu",
    onkeydown: (event: Event) => {
      if ((event as KeyboardEvent).key !== "Escape" || list.hidden) return;
      event.stopPropagation();
      close();
      button.focus();
    },
  }, button, list);
  return box;
}

/** Rows past this are counted, not drawn. */
const MAX_ROWS = 2000;

/** The series joined on time: one row per timestamp, one column per series. */
function dataTable(frames: Frame[]): HTMLElement {
  if (!frames.length) return h("p", { class: "muted" }, "The queries returned no series.");
  const rows = new Map<number, (number | null)[]>();
  frames.forEach((f, col) => {
    for (let i = 0; i < f.timestamps.length; i++) {
      const t = f.timestamps[i];
      let row = rows.get(t);
      if (!row) rows.set(t, (row = new Array<number | null>(frames.length).fill(null)));
      row[col] = f.values[i] ?? null;
    }
  });
  const times = [...rows.keys()].sort((a, b) => a - b);
  const shown = times.slice(0, MAX_ROWS);
  return h(
    "div",
    { class: "inspect-scroll" },
    h(
      "table",
      { class: "data inspect-data" },
      h("thead", null, h("tr", null, h("th", { scope: "col" }, "Time"), frames.map((f) => h("th", { scope: "col", class: "num" }, f.name)))),
      h("tbody", null, shown.map((t) => h("tr", null, h("td", { class: "mono" }, dateTime(t * 1000)), (rows.get(t) ?? []).map((v) => h("td", { class: "num" }, v === null ? "" : String(v)))))),
    ),
    times.length > shown.length ? h("p", { class: "muted" }, `First ${shown.length} of ${times.length} rows.`) : null,
  );
}

function queryList(records: QueryRecord[]): HTMLElement {
  if (!records.length) return h("p", { class: "muted" }, "This panel sent no queries.");
  return h(
    "div",
    { class: "inspect-queries" },
    [...records].sort((a, b) => a.position - b.position).map((r) => {
      const q = r.query;
      const form: Record<string, string> = q.instant
        ? { query: q.expr, time: String(q.end) }
        : { query: q.expr, start: String(q.start), end: String(q.end), step: String(q.step) };
      return h(
        "section",
        { class: "inspect-query", "data-ref-id": q.refId },
        h("h3", null, `Query ${q.refId}`),
        h("pre", { class: "inspect-expr" }, q.expr),
        h(
          "dl",
          { class: "inspect-facts" },
          h("dt", null, "Request"),
          h("dd", { class: "mono inspect-request" }, `POST ${r.path}`, h("br"), new URLSearchParams(form).toString()),
          h("dt", null, "Time"),
          h("dd", { class: "inspect-time" }, `${Math.round(r.ms)} ms`),
          h("dt", null, "Result"),
          h("dd", null, r.error ? h("span", { class: "error-text" }, r.error) : `${r.series} series`),
        ),
      );
    }),
  );
}

/** A modal dialog with the Data and Query tabs; removed from the page when closed. */
export function inspectDialog(title: string, inspection: Inspection, tab: InspectTab): HTMLDialogElement {
  const body = h("div", { class: "inspect-body", role: "tabpanel" });
  const tabs = h("div", { role: "tablist", class: "query-tabs", "aria-label": "Inspect" });
  const show = (which: InspectTab): void => {
    for (const b of tabs.querySelectorAll("button")) b.setAttribute("aria-selected", String(b.dataset.tab === which));
    replace(body, which === "data" ? dataTable(inspection.frames) : queryList(inspection.queries));
  };
  for (const [which, text] of [["data", "Data"], ["query", "Query"]] as const) {
    const b = h("button", { type: "button", role: "tab", onclick: () => show(which) }, text);
    b.dataset.tab = which;
    tabs.append(b);
  }
  const dialog = h(
    "dialog",
    { class: "inspect", "aria-label": `Inspect: ${title}` },
    h("header", { class: "inspect-head" }, h("h2", null, `Inspect: ${title}`), h("button", { type: "button", onclick: () => dialog.close() }, "Close")),
    tabs,
    body,
  );
  dialog.addEventListener("close", () => dialog.remove());
  show(tab);
  return dialog;
}
