// One imported Grafana dashboard: header (time range, refresh), variables bar, and the
// 24-column grid with rows and repeats; every panel runs its queries through one small
// concurrency limit and reports its state in data-panel-state (ui.md's contract).
import { promGet } from "../api";
import type { TSDBStatus } from "../api/types/status-tsdb";
import { h, humanDuration, replace } from "../dom";
import { setParams } from "../router";
import { type Scope, interpolate, parseDuration, single } from "./interpolate";
import { dateTime } from "../timezone";
import { type Inspection, type InspectTab, inspectDialog, panelMenu, queryHref } from "./inspect";
import { MetricNames } from "./nodata";
import { firstScrapeBy, noticeTexts, parseNotices } from "./notices";
import { PANELS } from "./panels";
import { datasourceProblem } from "./datasources";
import { type QueryRecord, planQueries, runQueries } from "./queries";
import { QUICK_RANGES, REFRESH_CHOICES, type TimeRange, describeRange, parseTime, resolveRange, shiftRange, zoomOut } from "./time";
import type { GrafanaPanel, PanelState } from "./types";
import { ALL, dependents, parseVariables, refreshVariables, variableBar, variableScope, writeParams } from "./variables";
import { COLUMNS, type Placed, layout, layoutKey } from "./layout";
import { linkHref, parseLinks } from "./links";
import "./dashboards.css";

/** Grafana's dashboard JSON, as far as the page reads it. */
export interface DashboardModel {
  uid?: string;
  title?: string;
  panels?: GrafanaPanel[];
  templating?: { list?: unknown[] };
  time?: { from?: string; to?: string };
  refresh?: string | boolean;
  /** 0: each panel its own crosshair; 1: shared crosshair; 2: shared crosshair and tooltip. */
  graphTooltip?: number;
  /** vigil's own: notices shown above the panels while their PromQL condition returns series. */
  vigilNotices?: unknown;
  [key: string]: unknown;
}

const CELL_HEIGHT = 30;
const MARGIN = 8;
const HEADER = 26;

interface PanelView {
  placed: Placed;
  el: HTMLElement;
  body: HTMLElement;
  width: number;
  height: number;
  cleanup: (() => void) | null;
  run: number;
  /** Aborted when this view's queries are no longer wanted (a newer run, or the page left). */
  abort: AbortController;
  /** What the last run sent and got, for Inspect. */
  inspection: Inspection;
}

function rowStateKey(uid: string): string {
  return `vigil.rows.${uid}`;
}

function readRowState(uid: string): Record<string, boolean> {
  try {
    return JSON.parse(sessionStorage.getItem(rowStateKey(uid)) ?? "{}") as Record<string, boolean>;
  } catch {
    return {};
  }
}

/** Draws dashboard `model` into `root`; returns the cleanup (timers, charts). */
export function renderDashboard(root: HTMLElement, uid: string, model: DashboardModel, params: URLSearchParams): () => void {
  const title = model.title || uid;
  document.title = `${title} - vigil`;
  const vars = parseVariables(model.templating?.list, params);
  const defaultRefresh = typeof model.refresh === "string" ? model.refresh : "";
  let range: TimeRange = resolveRange(params.get("from") ?? model.time?.from ?? "now-6h", params.get("to") ?? model.time?.to ?? "now");
  let refresh = params.has("refresh") ? params.get("refresh") ?? "" : defaultRefresh;
  let views: PanelView[] = [];
  /** The panel shown full screen (View), over the grid. */
  let viewer: { view: PanelView; overlay: HTMLElement } | null = null;
  let wantedView = params.get("viewPanel");
  let timer: number | undefined;
  let closed = false;
  let generation = 0;
  /** Variable loads under way: the dashboard is not "done" while a rebuild may follow. */
  let varsLoading = 0;
  const loadVariables = async (only: Set<string> | null, onTimeChange = false): Promise<void> => {
    varsLoading++;
    try {
      await refreshVariables(vars, range, only, onTimeChange);
    } finally {
      varsLoading--;
    }
  };
  const rowState = readRowState(uid);
  const metricNames = new MetricNames();
  const notices = parseNotices(model.vigilNotices);
  /** Until every target has been scraped once: when they will have been (Unix ms). */
  let firstScrape: number | null = null;
  let scrapeTimer: number | undefined;

  const dash = h("div", { class: "dashboard", "data-dashboard-state": "loading", "data-dashboard-uid": uid });
  const varsBox = h("div", { class: "dash-vars-box" });
  const noticeBox = h("div", { class: "dash-notices", role: "status" });
  const scrapeNote = h("p", { class: "dash-notice first-scrape", hidden: true });
  const grid = h("div", { class: "dash-grid" });
  const rangeText = h("span", { class: "range-text muted", "aria-live": "polite" });
  const since = h("span", { class: "collecting-since muted", hidden: true });
  /** The oldest sample the server holds (Unix ms), once known. */
  let oldest: number | null = null;
  const sync = model.graphTooltip === 1 || model.graphTooltip === 2 ? { key: `dashboard:${uid}`, tooltip: model.graphTooltip === 2 } : undefined;

  // ---- header: time picker, refresh, auto-refresh
  const rangeSelect = h("select", { "aria-label": "Time range", class: "time-range" });
  for (const [from, text] of QUICK_RANGES) rangeSelect.append(h("option", { value: from }, text));
  /** A relative range not among the quick ones ("Last 2h" after a zoom out) gets an option of its own. */
  const otherLast = h("option", { hidden: true });
  rangeSelect.append(otherLast, h("option", { value: "custom" }, "Custom range"));
  const fromInput = h("input", { type: "text", "aria-label": "From", class: "time-from", size: 19 });
  const toInput = h("input", { type: "text", "aria-label": "To", class: "time-to", size: 19 });
  const customForm = h("form", { class: "time-custom" }, fromInput, toInput, h("button", { type: "submit" }, "Apply"));
  const customError = h("span", { class: "var-error", role: "alert" });
  customForm.append(customError);
  const refreshButton = h("button", { type: "button", class: "refresh", "aria-label": "Refresh" }, "Refresh");
  const autoSelect = h("select", { "aria-label": "Auto refresh", class: "auto-refresh" });
  const choices = REFRESH_CHOICES.includes(refresh) ? REFRESH_CHOICES : [...REFRESH_CHOICES, refresh];
  for (const c of choices) autoSelect.append(h("option", { value: c }, c ? `Every ${c}` : "Auto refresh off"));

  const syncHeader = (): void => {
    const relative = range.raw.to === "now" && /^now-\d+[smhdwMy]$/.test(range.raw.from);
    const quick = relative || (range.raw.to === "now" && QUICK_RANGES.some(([f]) => f === range.raw.from));
    otherLast.hidden = !relative || QUICK_RANGES.some(([f]) => f === range.raw.from);
    if (!otherLast.hidden) {
      otherLast.value = range.raw.from;
      otherLast.textContent = describeRange(range);
    }
    rangeSelect.value = quick ? range.raw.from : "custom";
    customForm.hidden = quick;
    fromInput.value = /^\d+$/.test(range.raw.from) ? dateTime(range.from) : range.raw.from;
    toInput.value = /^\d+$/.test(range.raw.to) ? dateTime(range.to) : range.raw.to;
    rangeText.textContent = quick ? "" : describeRange(range);
    autoSelect.value = refresh;
    // On an install younger than the range, the graphs start part-way: say why.
    since.hidden = oldest === null || oldest <= range.from || oldest >= range.to;
    if (oldest !== null) since.textContent = `collecting since ${clockTime(oldest, range)}`;
  };

  /** A new range from the picker, a drag, zoom out or a shift: a history entry of its own. */
  const setRange = (raw: { from: string; to: string }): void => {
    range = resolveRange(raw.from, raw.to);
    void timeChanged(true);
  };

  /** `push`: a new history entry (range changes), else the current one is rewritten. */
  const writeUrl = (push = false): void => {
    const p = new URLSearchParams(location.search);
    p.set("from", range.raw.from);
    p.set("to", range.raw.to);
    if (refresh !== defaultRefresh) p.set("refresh", refresh);
    else p.delete("refresh");
    writeParams(vars, p);
    if (viewer) p.set("viewPanel", panelKey(viewer.view.placed));
    else if (wantedView === null) p.delete("viewPanel");
    setParams(p, push);
    drawLinks();
  };

  rangeSelect.addEventListener("change", () => {
    if (rangeSelect.value === "custom") {
      customForm.hidden = false;
      fromInput.focus();
      return;
    }
    setRange({ from: rangeSelect.value, to: "now" });
  });
  customForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const now = Date.now();
    const toMs = (text: string, up: boolean): string | null => {
      const t = text.trim();
      if (/^now/.test(t) || /^\d{9,}$/.test(t)) return parseTime(t, now, up) === null ? null : t;
      const ms = parseTime(t, now, up);
      return ms === null ? null : String(ms);
    };
    const f = toMs(fromInput.value, false);
    const t = toMs(toInput.value, true);
    const fr = f === null ? null : parseTime(f, now);
    const tr = t === null ? null : parseTime(t, now, true);
    if (f === null || t === null || fr === null || tr === null || fr >= tr) {
      customError.textContent = "Enter a from time before the to time: now-6h, now, or 2024-05-01 13:45:00.";
      return;
    }
    customError.textContent = "";
    setRange({ from: f, to: t });
  });
  refreshButton.addEventListener("click", () => void timeChanged());
  autoSelect.addEventListener("change", () => {
    refresh = autoSelect.value;
    schedule();
    writeUrl();
  });

  const schedule = (): void => {
    if (timer !== undefined) window.clearInterval(timer);
    timer = undefined;
    const ms = parseDuration(refresh);
    if (ms && ms >= 1000 && !closed) {
      timer = window.setInterval(() => {
        if (dash.getAttribute("data-dashboard-state") === "done") void timeChanged();
      }, ms);
    }
  };

  const zoomOutNow = (): void => setRange(zoomOut(range, Date.now()));
  const navButton = (label: string, text: string, onclick: () => void): HTMLButtonElement =>
    h("button", { type: "button", class: "time-nav", "aria-label": label, title: label, onclick }, text);
  const links = parseLinks(model.links);
  const linkBar = h("nav", { class: "dash-links", "aria-label": "Dashboard links", hidden: links.length === 0 });
  const drawLinks = (): void => {
    if (!links.length) return;
    const varParams = new URLSearchParams();
    writeParams(vars, varParams);
    const scope = baseScope();
    replace(
      linkBar,
      links.map((link) =>
        h(
          "a",
          {
            class: "dash-link",
            href: linkHref(link, scope, range, varParams),
            title: link.tooltip || undefined,
            target: link.targetBlank ? "_blank" : undefined,
            rel: link.targetBlank ? "noopener" : undefined,
          },
          interpolate(link.title, scope, "text"),
        ),
      ),
    );
  };
  const header = h(
    "header",
    { class: "dash-header" },
    h("h1", null, title),
    linkBar,
    h(
      "div",
      { class: "toolbar dash-controls" },
      since,
      rangeText,
      navButton("Earlier by half the range", "‹", () => setRange(shiftRange(range, -1, Date.now()))),
      rangeSelect,
      customForm,
      navButton("Later by half the range", "›", () => setRange(shiftRange(range, 1, Date.now()))),
      navButton("Zoom out (Ctrl+Z)", "Zoom out", zoomOutNow),
      refreshButton,
      autoSelect,
    ),
  );
  const onKey = (event: KeyboardEvent): void => {
    const target = event.target as HTMLElement | null;
    if (target?.closest("input, textarea, select, [contenteditable]")) return;
    if (event.key === "Escape" && viewer && !document.querySelector("dialog[open]")) {
      closeViewer(true);
      return;
    }
    if ((event.ctrlKey || event.metaKey) && !event.shiftKey && !event.altKey && event.key.toLowerCase() === "z") {
      event.preventDefault();
      zoomOutNow();
    }
  };
  document.addEventListener("keydown", onKey);
  dash.append(header, scrapeNote, noticeBox, varsBox, grid);
  root.append(dash);

  // ---- variables
  const drawVars = (focusName?: string): void => {
    // A multi-value picker stays open, with its search text and focus, across the redraw.
    const open = varsBox.querySelector("details[open] > summary")?.getAttribute("data-var") ?? null;
    const searched = varsBox.querySelector<HTMLInputElement>("details[open] .var-search")?.value ?? "";
    const focused = document.activeElement instanceof HTMLInputElement && varsBox.contains(document.activeElement) ? document.activeElement : null;
    const active = focused?.type === "checkbox" ? focused.value : null;
    replace(varsBox, variableBar(vars, (name) => void varChanged(name)));
    if (!focusName) return;
    const control = varsBox.querySelector(`[data-var="${CSS.escape(focusName)}"]`) as HTMLElement | null;
    const details = control?.parentElement;
    if (open === focusName && details instanceof HTMLDetailsElement) {
      const search = details.querySelector<HTMLInputElement>(".var-search");
      if (search && searched) {
        search.value = searched;
        search.dispatchEvent(new Event("input"));
      }
      const box = [...details.querySelectorAll<HTMLInputElement>("input[type=checkbox]")].find((i) => i.value === active);
      (box ?? (focused?.type === "search" ? search : null) ?? control)?.focus();
      details.open = true;
    } else control?.focus();
  };

  const varChanged = async (name: string): Promise<void> => {
    const mine = ++generation;
    dash.setAttribute("data-dashboard-state", "loading");
    writeUrl();
    await loadVariables(dependents(vars, name));
    if (closed || mine !== generation) return;
    writeUrl();
    drawVars(name);
    build();
  };

  const timeChanged = async (push = false): Promise<void> => {
    const mine = ++generation;
    range = resolveRange(range.raw.from, range.raw.to);
    syncHeader();
    void showNotices();
    writeUrl(push);
    dash.setAttribute("data-dashboard-state", "loading");
    const before = JSON.stringify(vars.map((v) => [v.options, v.current]));
    await loadVariables(null, true);
    if (closed || mine !== generation) return;
    if (JSON.stringify(vars.map((v) => [v.options, v.current])) !== before) {
      writeUrl();
      drawVars();
      build();
    } else {
      for (const v of views) void runPanel(v);
      if (viewer) void runPanel(viewer.view);
      settle();
    }
  };

  // ---- the grid
  const settle = (): void => {
    const loading = varsLoading > 0 || views.some((v) => v.el.getAttribute("data-panel-state") === "loading");
    dash.setAttribute("data-dashboard-state", loading ? "loading" : "done");
  };

  const setState = (view: PanelView, state: PanelState): void => {
    view.el.setAttribute("data-panel-state", state);
    if (state !== "loading") settle();
  };

  const baseScope = (): Scope => ({ ...variableScope(vars, range), __dashboard: single(title) });

  const runPanel = async (view: PanelView): Promise<void> => {
    const run = ++view.run;
    const { panel, scope: repeatScope } = view.placed;
    const scope = { ...baseScope(), ...repeatScope };
    const type = panel.type || "unknown";
    const kind = PANELS[type];
    const show = (state: PanelState, ...children: (Node | string)[]): void => {
      view.cleanup?.();
      view.cleanup = null;
      replace(view.body, h("div", { class: `panel-note ${state}` }, ...children));
      setState(view, state);
    };
    if (!kind) {
      const what = panel.libraryPanel ? "Library panels are" : `Panel type '${type}' is`;
      show("unsupported", `${what} not supported by vigil`);
      return;
    }
    // Unsupported when the panel's datasource, or every target's, is one vigil does not serve.
    const targetProblems = (panel.targets ?? []).map((t) => datasourceProblem(t.datasource));
    const problem = datasourceProblem(panel.datasource) ?? (targetProblems.length && targetProblems.every((x) => x) ? targetProblems[0] : null);
    if (problem && kind.queries) {
      show("unsupported", `This panel queries ${problem}, which vigil does not serve.`);
      return;
    }
    view.el.setAttribute("data-panel-state", "loading");
    dash.setAttribute("data-dashboard-state", "loading");
    view.abort.abort();
    const abort = new AbortController();
    view.abort = abort;
    const sent: QueryRecord[] = [];
    view.inspection = { frames: [], queries: sent };
    try {
      const frames = kind.queries
        ? await runQueries({ panel, scope, from: range.from, to: range.to, width: view.width, signal: abort.signal, onQuery: (r) => sent.push(r) })
        : [];
      if (closed || run !== view.run) return;
      view.inspection = { frames, queries: sent };
      if (kind.queries && !frames.length) {
        show("nodata", ...noDataText([]));
        void explainNoData(view, run, sent);
        return;
      }
      view.cleanup?.();
      view.cleanup = null;
      view.body.replaceChildren();
      const done = kind.render(view.body, {
        panel,
        frames,
        width: view.width,
        height: view.height,
        from: range.from / 1000,
        to: range.to / 1000,
        interpolate: (text: string) => interpolate(text, scope, "text"),
        onZoom: (from: number, to: number) => setRange({ from: String(Math.round(from * 1000)), to: String(Math.round(to * 1000)) }),
        sync,
      });
      view.cleanup = typeof done === "function" ? done : null;
      setState(view, "rendered");
    } catch (err) {
      if (closed || run !== view.run) return;
      show("error", err instanceof Error ? err.message : String(err));
    }
  };

  /** Why a panel has no data, when no target exports a metric it reads; told once known, so
   * the panel (and the dashboard) is done without waiting for the server's list of names. */
  const explainNoData = async (view: PanelView, run: number, sent: QueryRecord[]): Promise<void> => {
    // Before the first scrape nothing is exported yet: the banner above says so.
    await scrapeKnown;
    if (firstScrape !== null) return;
    const prometheus = sent.filter((r) => r.query.api === "prometheus").sort((a, b) => a.position - b.position);
    const missing = await metricNames.missing(prometheus.map((r) => r.query.expr), range.from, range.to);
    if (closed || run !== view.run || !missing.length) return;
    replace(view.body, h("div", { class: "panel-note nodata" }, ...noDataText(missing)));
  };

  const panelView = (placed: Placed, width: number, height: number): PanelView => {
    const { panel } = placed;
    const scope = { ...baseScope(), ...placed.scope };
    const ptitle = interpolate(panel.title ?? "", scope, "text");
    const description = panel.description ? interpolate(panel.description, scope, "text") : "";
    const body = h("div", { class: "panel-body", style: `height:${height}px` });
    const el = h(
      "section",
      {
        class: "panel",
        style: `grid-column:${placed.x + 1} / span ${placed.w};grid-row:${placed.y + 1} / span ${placed.h}`,
        "data-panel-state": "loading",
        "data-panel-type": panel.type || "unknown",
        "data-panel-title": ptitle,
        "aria-label": ptitle || "Panel",
      },
      h(
        "header",
        { class: "panel-header" },
        h("h2", { class: "panel-title", title: ptitle }, ptitle),
        description ? h("span", { class: "panel-info", tabindex: "0", role: "note", title: description, "aria-label": description }, "i") : null,
        panelMenu(ptitle, {
          view: () => openViewer(placed, true),
          queryHref: () => queryHref(planQueries({ panel, scope, from: range.from, to: range.to, width }), range),
          inspect: (tab: InspectTab) => {
            const dialog = inspectDialog(ptitle || "Panel", view.inspection, tab);
            document.body.append(dialog);
            dialog.showModal();
          },
          copyLink: () => void copyLink(panelKey(placed), el),
        }),
      ),
      body,
    );
    const view: PanelView = { placed, el, body, width, height, cleanup: null, run: 0, abort: new AbortController(), inspection: { frames: [], queries: [] } };
    return view;
  };

  /** Grafana's viewPanel value: the panel's id, else its place in the dashboard's list. */
  const panelKey = (placed: Placed): string => String(placed.panel.id ?? (model.panels ?? []).indexOf(placed.panel));

  const closeViewer = (push: boolean): void => {
    if (!viewer) return;
    const { view, overlay } = viewer;
    viewer = null;
    view.run++;
    view.abort.abort();
    view.cleanup?.();
    overlay.remove();
    if (push) writeUrl(true);
  };

  /** View: the panel alone over the grid, as large as the window; Escape or Close returns. */
  const openViewer = (placed: Placed, push: boolean): void => {
    closeViewer(false);
    const width = Math.max(200, document.documentElement.clientWidth - 48);
    const height = Math.max(200, window.innerHeight - 160);
    const view = panelView(placed, width, height);
    const back = h("button", { type: "button", class: "viewer-close", onclick: () => closeViewer(true) }, "Back to dashboard");
    const overlay = h("div", { class: "panel-viewer", role: "dialog", "aria-label": `View: ${view.el.getAttribute("data-panel-title") ?? ""}` }, back, view.el);
    view.el.removeAttribute("style");
    dash.append(overlay);
    viewer = { view, overlay };
    if (push) writeUrl(true);
    back.focus();
    void runPanel(view);
  };

  /** A link to this panel at this moment's range, on the clipboard (or shown, when the browser refuses). */
  const copyLink = async (key: string, el: HTMLElement): Promise<void> => {
    const p = new URLSearchParams(location.search);
    p.set("from", String(Math.round(range.from)));
    p.set("to", String(Math.round(range.to)));
    p.set("viewPanel", key);
    const link = `${location.origin}${location.pathname}?${p.toString()}`;
    const note = h("div", { class: "panel-copied", role: "status" });
    try {
      await navigator.clipboard.writeText(link);
      note.textContent = "Link copied";
    } catch {
      note.append("Copy this link: ", h("input", { type: "text", readonly: true, value: link, "aria-label": "Panel link", size: 40 }));
    }
    el.querySelector(".panel-copied")?.remove();
    el.querySelector(".panel-header")?.append(note);
    window.setTimeout(() => note.remove(), 4000);
  };

  const build = (): void => {
    if (viewer) {
      wantedView = panelKey(viewer.view.placed);
      closeViewer(false);
    }
    for (const v of views) {
      v.run++;
      v.abort.abort();
      v.cleanup?.();
    }
    views = [];
    grid.replaceChildren();
    const gridWidth = grid.clientWidth || root.clientWidth || 1200;
    const colWidth = (gridWidth - (COLUMNS - 1) * MARGIN) / COLUMNS;
    const sized = (p: Placed): PanelView =>
      panelView(
        p,
        Math.max(50, Math.round(p.w * colWidth + (p.w - 1) * MARGIN) - 2 * 6),
        Math.max(40, p.h * CELL_HEIGHT + (p.h - 1) * MARGIN - HEADER - 6),
      );
    const secs = layout(model.panels ?? [], vars);
    const fresh: PanelView[] = [];
    for (const s of secs) {
      const box = h("div", { class: "dash-section" });
      const cells = h("div", { class: "dash-cells" });
      const draw = (): PanelView[] => {
        const made = s.panels.map(sized);
        cells.replaceChildren(...made.map((v) => v.el));
        views.push(...made);
        return made;
      };
      if (s.row) {
        const rowScope = { ...baseScope(), ...s.scope };
        const rtitle = interpolate(s.row.title ?? "", rowScope, "text");
        let collapsed = rowState[s.key] ?? s.row.collapsed === true;
        let drawn = false;
        const button = h("button", { type: "button", class: "row-toggle", "aria-expanded": String(!collapsed) },
          h("span", { class: "chevron", "aria-hidden": "true" }), rtitle || "Row", h("span", { class: "row-count muted" }, ` (${s.panels.length} panels)`));
        box.append(h("h2", { class: "dash-row", "data-panel-type": "row", "data-row-title": rtitle }, button));
        cells.hidden = collapsed;
        if (!collapsed) {
          fresh.push(...draw());
          drawn = true;
        }
        button.addEventListener("click", () => {
          collapsed = !collapsed;
          rowState[s.key] = collapsed;
          try {
            sessionStorage.setItem(rowStateKey(uid), JSON.stringify(rowState));
          } catch {
            // Private mode: the state lasts for this page only.
          }
          button.setAttribute("aria-expanded", String(!collapsed));
          cells.hidden = collapsed;
          if (!collapsed && !drawn) {
            drawn = true;
            for (const v of draw()) void runPanel(v);
            settle();
          }
        });
      } else {
        fresh.push(...draw());
      }
      box.append(cells);
      grid.append(box);
    }
    if (!fresh.length) {
      settle();
      if (!secs.length) grid.append(h("p", { class: "muted" }, "This dashboard has no panels."));
    }
    for (const v of fresh) void runPanel(v);
    settle();
    if (wantedView !== null) {
      const key = wantedView;
      wantedView = null;
      const placed = secs.flatMap((s) => s.panels).find((p) => panelKey(p) === key);
      if (placed) openViewer(placed, false);
    }
  };

  /** The dashboard's notices whose condition holds at the range's end. */
  const showNotices = async (): Promise<void> => {
    if (!notices.length) return;
    const texts = await noticeTexts(notices, range.to);
    if (!closed) replace(noticeBox, texts.map((t) => h("p", { class: "dash-notice" }, t)));
  };

  /** "Waiting for the first scrape" with a countdown; once every target is scraped, panels without data run again. */
  const watchFirstScrape = async (tick = 0): Promise<void> => {
    // The countdown is an upper bound (each target has its own offset in the interval): the
    // server is asked again every 5 s, and every second once the countdown has run out.
    if (tick % 5 === 0 || (firstScrape !== null && firstScrape <= Date.now())) {
      try {
        firstScrape = await firstScrapeBy();
      } catch {
        firstScrape = null;
      }
    }
    if (closed) return;
    if (firstScrape === null) {
      if (!scrapeNote.hidden) {
        scrapeNote.hidden = true;
        // Panels that drew data keep it; those without may have some now.
        for (const v of [...views, ...(viewer ? [viewer.view] : [])]) {
          if (v.el.getAttribute("data-panel-state") === "nodata") void runPanel(v);
        }
        settle();
      }
      return;
    }
    const left = firstScrape - Date.now();
    scrapeNote.hidden = false;
    scrapeNote.textContent = left > 0 ? `Waiting for the first scrape: in ${humanDuration(left)} at most.` : "Waiting for the first scrape: under way.";
    scrapeTimer = window.setTimeout(() => void watchFirstScrape(tick + 1), 1000);
  };

  syncHeader();
  drawLinks();
  schedule();
  void (async () => {
    const mine = ++generation;
    // When the URL (or the saved dashboard) already names every variable's value, panels
    // start at once and the options load beside them; panels are redone only if a value
    // turns out not to exist.
    const known = vars.every((v) => v.current.length > 0 && !(v.current.includes(ALL) && v.allValue === null));
    const drawn = (): string => layoutKey(layout(model.panels ?? [], vars), baseScope());
    const chosen = known ? drawn() : "";
    // The variables' requests first: the browser sends requests in the order they were made.
    const loaded = loadVariables(null);
    if (known) {
      drawVars();
      build();
    }
    await loaded;
    if (closed || mine !== generation) return;
    writeUrl();
    drawVars();
    if (!known || drawn() !== chosen) build();
    else settle();
  })();
  // After the panels' first queries: the browser sends requests in the order they were made.
  void showNotices();
  const scrapeKnown = watchFirstScrape();
  void oldestSample().then((t) => {
    oldest = t;
    if (!closed) syncHeader();
  });

  return () => {
    closed = true;
    closeViewer(false);
    document.removeEventListener("keydown", onKey);
    if (timer !== undefined) window.clearInterval(timer);
    window.clearTimeout(scrapeTimer);
    for (const v of views) {
      v.run++;
      v.abort.abort();
      v.cleanup?.();
    }
    views = [];
  };
}

/** When the server's oldest sample was taken (Unix ms), from the TSDB status; null if unknown or empty. */
async function oldestSample(): Promise<number | null> {
  try {
    const status = await promGet<TSDBStatus>("/api/v1/status/tsdb");
    const times = [status.headStats.minTime, ...(status.blocks ?? []).map((b) => b.minTime)].filter((t) => t > 0);
    return times.length ? Math.min(...times) : null;
  } catch {
    return null;
  }
}

/** "03:21", with the date when the range spans more than a day. */
function clockTime(ms: number, range: TimeRange): string {
  const text = dateTime(ms);
  return range.to - range.from > 86_400_000 ? text.slice(0, 16) : text.slice(11, 16);
}

/** "No data", and why when the queries read metrics the server has no series of. */
function noDataText(missing: string[]): (Node | string)[] {
  if (!missing.length) return ["No data"];
  const names = missing.flatMap((name, i) => [i ? " or " : "", h("code", null, name)]);
  return ["No data: no target exports ", ...names];
}
