// One query panel of the Query page: editor, Table/Graph tabs and their controls. Its state is
// Prometheus's graph-page URL state (g0.expr, g0.tab, g0.range_input, ...), so links from
// Prometheus open here and links from here open in Prometheus.
import { queryInstant, queryRange } from "../api";
import type { QueryData } from "../api/types/query";
import { type Chart, alignMatrix, timeChart } from "../chart";
import { h, notice, replace, seriesName } from "../dom";
import { formatDuration } from "../duration";
import { type Sources, metricSelector, promqlCompleter } from "./autocomplete";
import { type Editor, editor } from "./editor";
import { openExplorer } from "./explorer";
import { clearHistory, loadHistory, remember } from "./history";
import { resultCount, resultTable } from "./table";
import { autoStep, formatTime, parseSeconds, parseTime, stepRange } from "./time";

export type Tab = "table" | "graph";

export interface PanelState {
  expr: string;
  tab: Tab;
  /** Graph range in seconds. */
  range: number;
  /** End of the graph and evaluation time of the table, unix seconds; null is "now". */
  end: number | null;
  /** Graph resolution in seconds; null is automatic. */
  step: number | null;
  stacked: boolean;
}

export const DEFAULT_STATE: PanelState = { expr: "", tab: "table", range: 3600, end: null, step: null, stacked: false };

/** The panels in `params` (g0, g1, ...), in index order; at least one. */
export function readPanels(params: URLSearchParams): PanelState[] {
  const byIndex = new Map<number, PanelState>();
  for (const [key, value] of params) {
    const m = /^g(\d+)\.(\w+)$/.exec(key);
    if (!m) continue;
    const i = parseInt(m[1], 10);
    let s = byIndex.get(i);
    if (!s) byIndex.set(i, (s = { ...DEFAULT_STATE }));
    switch (m[2]) {
      case "expr":
        s.expr = value;
        break;
      case "tab":
        // Prometheus 2: 0 = graph, 1 = table; also the words.
        s.tab = value === "0" || value === "graph" ? "graph" : "table";
        break;
      case "stacked":
        s.stacked = value === "1" || value === "true";
        break;
      case "range_input": {
        const r = parseSeconds(value);
        if (r) s.range = r;
        break;
      }
      case "end_input":
      case "moment_input": {
        const t = parseTime(value);
        if (t === null || Number.isFinite(t)) s.end = t;
        break;
      }
      case "step_input": {
        const step = parseSeconds(value);
        if (step) s.step = step;
        break;
      }
    }
  }
  const panels = [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([, s]) => s);
  return panels.length ? panels : [{ ...DEFAULT_STATE }];
}

/** `params` with its g* keys replaced by `panels`, spelled as Prometheus 2 spells them. */
export function writePanels(params: URLSearchParams, panels: PanelState[]): URLSearchParams {
  const out = new URLSearchParams();
  for (const [key, value] of params) if (!/^g\d+\./.test(key)) out.append(key, value);
  panels.forEach((s, i) => {
    const g = `g${i}.`;
    out.set(g + "expr", s.expr);
    out.set(g + "tab", s.tab === "graph" ? "0" : "1");
    if (s.stacked) out.set(g + "stacked", "1");
    out.set(g + "range_input", formatDuration(s.range * 1000));
    if (s.end !== null) {
      out.set(g + "end_input", formatTime(s.end));
      out.set(g + "moment_input", formatTime(s.end));
    }
    if (s.step !== null) out.set(g + "step_input", String(s.step));
  });
  return out;
}

type QueryState = "idle" | "loading" | "done" | "empty" | "error";

let panelIds = 0;

/**
 * A query panel. `onChange` is called when its state changes (to write the URL); `onRemove`,
 * when given, adds a remove button.
 */
export class QueryPanel {
  readonly element: HTMLElement;
  readonly state: PanelState;
  private readonly editor: Editor;
  private readonly tabs: Record<Tab, HTMLButtonElement>;
  private readonly panes: Record<Tab, HTMLElement>;
  private readonly results: Record<Tab, HTMLElement>;
  private readonly stats: Record<Tab, HTMLElement>;
  private readonly timeInputs: HTMLInputElement[] = [];
  private readonly rangeInput: HTMLInputElement;
  private readonly stepInput: HTMLInputElement;
  private readonly stackedInput: HTMLInputElement;
  private readonly heading: HTMLElement;
  private readonly historyPane: HTMLElement;
  private readonly historyButton: HTMLButtonElement;
  private chart: Chart | null = null;
  private generation = 0;
  private lastMatrix: { data: QueryData; start: number; end: number; step: number } | null = null;

  constructor(
    initial: PanelState,
    sources: Sources,
    private readonly onChange: () => void,
    onRemove?: () => void,
  ) {
    this.state = { ...initial };
    const id = `qp${++panelIds}`;
    this.editor = editor({ complete: promqlCompleter(sources), value: initial.expr, label: "Expression", onRun: () => void this.run() });

    const tab = (which: Tab, text: string): HTMLButtonElement =>
      h("button", {
        type: "button",
        role: "tab",
        id: `${id}-tab-${which}`,
        "aria-controls": `${id}-pane-${which}`,
        onclick: () => this.select(which, false),
        onkeydown: (e: Event) => this.tabKey(e as KeyboardEvent),
      }, text);
    this.tabs = { table: tab("table", "Table"), graph: tab("graph", "Graph") };

    const timeControls = (label: string): HTMLElement => {
      const input = h("input", {
        type: "text",
        class: "time-input mono",
        placeholder: "now",
        size: 22,
        "aria-label": label,
        title: "UTC, as 2006-01-02 15:04:05, or unix seconds; empty for now",
        onchange: () => this.setEnd(input.value),
        onkeydown: (e: Event) => {
          if ((e as KeyboardEvent).key === "Enter") this.setEnd(input.value);
        },
      });
      this.timeInputs.push(input);
      return h(
        "span",
        { class: "control-group" },
        h("button", { type: "button", "aria-label": `${label}: earlier`, title: "Earlier by half the range", onclick: () => this.shiftEnd(-1) }, "‹"),
        input,
        h("button", { type: "button", "aria-label": `${label}: later`, title: "Later by half the range", onclick: () => this.shiftEnd(1) }, "›"),
        h("button", { type: "button", "aria-label": `${label}: now`, onclick: () => this.setEnd("") }, "Now"),
      );
    };

    this.rangeInput = h("input", {
      type: "text",
      class: "range-input mono",
      size: 6,
      "aria-label": "Range",
      onchange: () => this.setRange(this.rangeInput.value),
      onkeydown: (e: Event) => {
        if ((e as KeyboardEvent).key === "Enter") this.setRange(this.rangeInput.value);
      },
    });
    this.stepInput = h("input", {
      type: "text",
      class: "step-input mono",
      size: 8,
      "aria-label": "Resolution (step)",
      title: "Seconds or a duration such as 30s; empty for automatic",
      onchange: () => this.setStep(this.stepInput.value),
      onkeydown: (e: Event) => {
        if ((e as KeyboardEvent).key === "Enter") this.setStep(this.stepInput.value);
      },
    });
    this.stackedInput = h("input", {
      type: "checkbox",
      onchange: () => {
        this.state.stacked = this.stackedInput.checked;
        this.onChange();
        this.redraw();
      },
    });

    this.stats = { table: h("p", { class: "query-stats muted", "aria-live": "polite" }), graph: h("p", { class: "query-stats muted", "aria-live": "polite" }) };
    this.results = { table: h("div", { class: "query-result" }), graph: h("div", { class: "query-result" }) };
    const pane = (which: Tab, ...controls: HTMLElement[]): HTMLElement =>
      h("div", { role: "tabpanel", id: `${id}-pane-${which}`, "aria-labelledby": `${id}-tab-${which}`, class: "query-pane" },
        h("div", { class: "toolbar" }, controls),
        this.stats[which],
        this.results[which],
      );
    this.panes = {
      table: pane("table", timeControls("Evaluation time")),
      graph: pane(
        "graph",
        h(
          "span",
          { class: "control-group" },
          h("button", { type: "button", "aria-label": "Shorter range", onclick: () => this.bumpRange(-1) }, "−"),
          this.rangeInput,
          h("button", { type: "button", "aria-label": "Longer range", onclick: () => this.bumpRange(1) }, "+"),
        ),
        timeControls("End time"),
        this.stepInput,
        h("label", { class: "stacked" }, this.stackedInput, " Stacked"),
      ),
    };

    this.heading = h("h2", { id: `${id}-heading`, class: "visually-hidden" }, "Query");
    this.historyPane = h("div", { id: `${id}-history`, class: "query-history", role: "group", "aria-label": "Query history", hidden: true });
    this.historyButton = h("button", {
      type: "button",
      "aria-expanded": "false",
      "aria-controls": this.historyPane.id,
      title: "Queries run from this browser",
      onclick: () => this.toggleHistory(),
    }, "History");
    this.element = h(
      "section",
      { class: "query-panel", "aria-labelledby": this.heading.id, "data-query-state": "idle" },
      this.heading,
      h(
        "div",
        { class: "query-input" },
        this.editor.element,
        h("button", {
          type: "button",
          title: "Explore metrics: names, types and help",
          onclick: () => openExplorer(sources, (name) => this.editor.insert(metricSelector(name))),
        }, "Metrics"),
        this.historyButton,
        h("button", { type: "button", class: "primary", onclick: () => void this.run() }, "Execute"),
        onRemove ? h("button", { type: "button", class: "remove", "aria-label": "Remove query", title: "Remove query", onclick: () => onRemove() }, "✕") : null,
      ),
      this.historyPane,
      h("div", { role: "tablist", "aria-label": "Result view", class: "query-tabs" }, this.tabs.table, this.tabs.graph),
      this.panes.table,
      this.panes.graph,
    );
    this.syncControls();
    this.showTab();
  }

  /** Numbers the panel (for its accessible name) once the page knows its position. */
  setIndex(i: number): void {
    this.heading.textContent = `Query ${i + 1}`;
  }

  focus(): void {
    this.editor.textarea.focus();
  }

  destroy(): void {
    this.generation++;
    this.chart?.destroy();
    this.chart = null;
  }

  /** Runs the expression for the selected tab. */
  async run(): Promise<void> {
    this.editor.close();
    this.state.expr = this.editor.value();
    this.onChange();
    const mine = ++this.generation;
    const tab = this.state.tab;
    const out = this.results[tab];
    const stats = this.stats[tab];
    if (!this.state.expr.trim()) {
      this.setQueryState("idle");
      replace(stats);
      replace(out);
      this.clearChart(tab);
      return;
    }
    remember(this.state.expr);
    this.editor.markError(null);
    this.setQueryState("loading");
    out.setAttribute("aria-busy", "true");
    const started = performance.now();
    try {
      if (tab === "table") {
        const time = this.state.end ?? Date.now() / 1000;
        const data = await queryInstant(this.state.expr, time);
        if (mine !== this.generation) return;
        const took = performance.now() - started;
        const count = resultCount(data);
        replace(stats, `Load time: ${Math.round(took)}ms · Evaluated at ${formatTime(time)} UTC · Result series: ${count}`);
        replace(out, resultTable(data));
        this.setQueryState(count ? "done" : "empty");
      } else {
        const end = this.state.end ?? Date.now() / 1000;
        const start = end - this.state.range;
        const step = this.state.step ?? autoStep(this.state.range);
        const data = await queryRange(this.state.expr, start, end, step);
        if (mine !== this.generation) return;
        const took = performance.now() - started;
        replace(stats, `Load time: ${Math.round(took)}ms · Resolution: ${formatDuration(step * 1000)} · Result series: ${resultCount(data)}`);
        this.lastMatrix = { data, start, end, step };
        this.redraw();
      }
    } catch (err) {
      if (mine !== this.generation) return;
      this.clearChart(tab);
      replace(stats);
      const message = err instanceof Error ? err.message : String(err);
      replace(out, notice("error", message));
      if (this.editor.value() === this.state.expr) this.editor.markError(message);
      this.setQueryState("error");
    } finally {
      if (mine === this.generation) out.removeAttribute("aria-busy");
    }
  }

  private clearChart(tab: Tab): void {
    if (tab !== "graph") return;
    this.chart?.destroy();
    this.chart = null;
    this.lastMatrix = null;
  }

  /** Draws the last range result again (after the stacked toggle, say). */
  private redraw(): void {
    const last = this.lastMatrix;
    if (!last) return;
    const out = this.results.graph;
    this.chart?.destroy();
    this.chart = null;
    const { data, start, end, step } = last;
    if (data.resultType !== "matrix") {
      replace(out, notice("error", `A graph needs a range vector result, not a ${data.resultType}.`));
      this.setQueryState("error");
      return;
    }
    if (!data.result.length) {
      replace(out, notice("info", "Empty query result"));
      this.setQueryState("empty");
      return;
    }
    const { timestamps, columns } = alignMatrix(data.result, start, end, step);
    const holder = h("div", { class: "query-chart", role: "img", "aria-label": `Graph of ${data.result.length} series` });
    replace(out, holder);
    this.chart = timeChart(holder, {
      timestamps,
      series: data.result.map((s, i) => ({
        label: seriesName(s.metric),
        values: columns[i],
        stack: this.state.stacked,
        fill: this.state.stacked ? 0.4 : 0,
        lineWidth: 1.5,
      })),
      height: 360,
    });
    this.setQueryState("done");
  }

  private setQueryState(state: QueryState): void {
    this.element.setAttribute("data-query-state", state);
  }

  private select(tab: Tab, focus: boolean): void {
    if (this.state.tab === tab) return;
    this.state.tab = tab;
    this.showTab();
    if (focus) this.tabs[tab].focus();
    this.onChange();
    void this.run();
  }

  /** Roving focus over the tabs: arrows, Home and End move and select. */
  private tabKey(event: KeyboardEvent): void {
    const order: Tab[] = ["table", "graph"];
    const i = order.indexOf(this.state.tab);
    let next: Tab | null = null;
    if (event.key === "ArrowRight" || event.key === "ArrowDown") next = order[(i + 1) % order.length];
    else if (event.key === "ArrowLeft" || event.key === "ArrowUp") next = order[(i + order.length - 1) % order.length];
    else if (event.key === "Home") next = order[0];
    else if (event.key === "End") next = order[order.length - 1];
    if (next === null) return;
    event.preventDefault();
    this.select(next, true);
  }

  private showTab(): void {
    for (const t of ["table", "graph"] as Tab[]) {
      const on = this.state.tab === t;
      this.tabs[t].setAttribute("aria-selected", String(on));
      this.tabs[t].tabIndex = on ? 0 : -1;
      this.panes[t].hidden = !on;
    }
  }

  private syncControls(): void {
    const end = this.state.end === null ? "" : formatTime(this.state.end);
    for (const input of this.timeInputs) {
      input.value = end;
      input.removeAttribute("aria-invalid");
    }
    this.rangeInput.value = formatDuration(this.state.range * 1000);
    this.rangeInput.removeAttribute("aria-invalid");
    this.stepInput.value = this.state.step === null ? "" : formatDuration(this.state.step * 1000);
    this.stepInput.placeholder = `auto (${formatDuration(autoStep(this.state.range) * 1000)})`;
    // Wide enough for the whole placeholder (the input is monospace).
    this.stepInput.size = Math.max(8, this.stepInput.placeholder.length + 1);
    this.stepInput.removeAttribute("aria-invalid");
    this.stackedInput.checked = this.state.stacked;
  }

  private changed(): void {
    this.syncControls();
    this.onChange();
    void this.run();
  }

  private setEnd(text: string): void {
    const t = parseTime(text);
    if (t !== null && !Number.isFinite(t)) {
      for (const input of this.timeInputs) if (input.value === text) input.setAttribute("aria-invalid", "true");
      return;
    }
    if (t === this.state.end) return;
    this.state.end = t;
    this.changed();
  }

  private shiftEnd(dir: 1 | -1): void {
    const end = this.state.end ?? Math.floor(Date.now() / 1000);
    this.state.end = end + (dir * this.state.range) / 2;
    this.changed();
  }

  private setRange(text: string): void {
    const r = parseSeconds(text);
    if (r === null) {
      this.rangeInput.setAttribute("aria-invalid", "true");
      return;
    }
    if (r === this.state.range) return;
    this.state.range = r;
    this.changed();
  }

  private bumpRange(dir: 1 | -1): void {
    this.state.range = stepRange(this.state.range, dir);
    this.changed();
  }

  /** Shows or hides the history: the queries run from this browser, newest first. */
  private toggleHistory(): void {
    const open = this.historyPane.hidden;
    this.historyPane.hidden = !open;
    this.historyButton.setAttribute("aria-expanded", String(open));
    if (!open) return;
    const queries = loadHistory();
    const close = (): void => {
      this.historyPane.hidden = true;
      this.historyButton.setAttribute("aria-expanded", "false");
    };
    replace(
      this.historyPane,
      queries.length
        ? h(
            "ul",
            { class: "history-list" },
            queries.map((q) =>
              h("li", null, h("button", {
                type: "button",
                class: "history-item mono",
                onclick: () => {
                  this.editor.setValue(q);
                  close();
                  this.focus();
                },
                onkeydown: (e: Event) => {
                  if ((e as KeyboardEvent).key === "Escape") {
                    close();
                    this.historyButton.focus();
                  }
                },
              }, q)),
            ),
          )
        : h("p", { class: "muted" }, "No queries yet: the queries you run are kept here, in this browser."),
      queries.length
        ? h("button", { type: "button", onclick: () => { clearHistory(); close(); } }, "Clear history")
        : null,
    );
    this.historyPane.querySelector<HTMLButtonElement>(".history-item")?.focus();
  }

  private setStep(text: string): void {
    const s = text.trim() === "" ? null : parseSeconds(text);
    if (s === null && text.trim() !== "") {
      this.stepInput.setAttribute("aria-invalid", "true");
      return;
    }
    if (s === this.state.step) return;
    this.state.step = s;
    this.changed();
  }
}
