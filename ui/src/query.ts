// The Query page: Prometheus's expression browser. Panels of PromQL editors with Table and
// Graph views; the whole state lives in Prometheus-compatible URL parameters (g0.expr, ...),
// and opening such a URL runs its queries.
import "./query/query.css";
import { h } from "./dom";
import type { Route } from "./router";
import { setParams } from "./router";
import { Sources } from "./query/autocomplete";
import { type PanelState, DEFAULT_STATE, QueryPanel, readPanels, writePanels } from "./query/panel";

export function queryPage(root: HTMLElement, route: Route): () => void {
  const sources = new Sources();
  const panels: QueryPanel[] = [];
  const list = h("div", { class: "query-panels" });

  const save = (): void => {
    setParams(writePanels(new URLSearchParams(location.search), panels.map((p) => p.state)));
  };

  const renumber = (): void => {
    panels.forEach((p, i) => p.setIndex(i));
  };

  const add = (state: PanelState): QueryPanel => {
    const panel: QueryPanel = new QueryPanel(state, sources, save, () => remove(panel));
    panels.push(panel);
    list.append(panel.element);
    renumber();
    return panel;
  };

  const remove = (panel: QueryPanel): void => {
    const i = panels.indexOf(panel);
    if (i < 0) return;
    panel.destroy();
    panel.element.remove();
    panels.splice(i, 1);
    if (!panels.length) add({ ...DEFAULT_STATE });
    renumber();
    save();
    panels[Math.min(i, panels.length - 1)].focus();
  };

  root.append(
    h("h1", null, "Query"),
    list,
    h("div", { class: "toolbar" },
      h("button", { type: "button", onclick: () => { add({ ...DEFAULT_STATE }).focus(); save(); } }, "Add query"),
    ),
  );
  for (const state of readPanels(route.params)) {
    const panel = add(state);
    if (state.expr.trim()) void panel.run();
  }
  if (!route.params.toString()) panels[0].focus();

  return () => {
    for (const p of panels) p.destroy();
  };
}
