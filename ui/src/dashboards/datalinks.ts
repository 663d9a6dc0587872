// Grafana's data links (a panel's fieldConfig.defaults.links): a click on a graph offers the
// links of the series nearest the pointer, as Grafana's graph does. A link's
// `${__field.labels.NAME}` is that series' label, `${__from}` and `${__to}` the dashboard's
// range in Unix ms, and the dashboard's variables are replaced as in a title. Each query
// parameter of the URL is filled in alone and encoded again, so a label holding `&`, `/`
// or a space stays one value.
import type uPlot from "uplot";
import { h } from "../dom";
import type { GrafanaPanel } from "./types";

export interface DataLink {
  title: string;
  url: string;
  targetBlank: boolean;
}

/** What a link's text is filled from: the series' labels, the range, the variables. */
export interface LinkScope {
  labels: Record<string, string>;
  fromMs: number;
  toMs: number;
  interpolate: (text: string) => string;
}

export function parseDataLinks(panel: GrafanaPanel): DataLink[] {
  const raw = panel.fieldConfig?.defaults?.links;
  if (!Array.isArray(raw)) return [];
  const out: DataLink[] = [];
  for (const item of raw) {
    if (typeof item !== "object" || item === null) continue;
    const l = item as Record<string, unknown>;
    if (typeof l.url !== "string" || !l.url) continue;
    out.push({ title: typeof l.title === "string" && l.title ? l.title : l.url, url: l.url, targetBlank: l.targetBlank === true });
  }
  return out;
}

function fill(text: string, scope: LinkScope): string {
  const own = text.replace(/\$\{(__field\.labels\.([^}:]+)|__from|__to)(?::[^}]*)?\}|\$(__from|__to)\b/g,
    (_m, braced: string | undefined, label: string | undefined, plain: string | undefined) => {
      if (label !== undefined) return scope.labels[label] ?? "";
      return String(Math.round((braced ?? plain) === "__from" ? scope.fromMs : scope.toMs));
    });
  return scope.interpolate(own);
}

function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

export function dataLinkHref(link: DataLink, scope: LinkScope): string {
  const hashAt = link.url.indexOf("#");
  const beforeHash = hashAt < 0 ? link.url : link.url.slice(0, hashAt);
  const hash = hashAt < 0 ? "" : link.url.slice(hashAt);
  const queryAt = beforeHash.indexOf("?");
  const path = queryAt < 0 ? beforeHash : beforeHash.slice(0, queryAt);
  const params = new URLSearchParams();
  for (const part of queryAt < 0 ? [] : beforeHash.slice(queryAt + 1).split("&")) {
    if (!part) continue;
    const eq = part.indexOf("=");
    const key = eq < 0 ? part : part.slice(0, eq);
    params.append(decoded(key), fill(decoded(eq < 0 ? "" : part.slice(eq + 1)), scope));
  }
  const search = params.toString();
  return `${fill(path, scope)}${search ? `?${search}` : ""}${hash}`;
}

/** The data series (0-based) drawn nearest the cursor, at the cursor's time or, where no
 * series has a value there, at the nearest time one has; -1 when none has any. */
export function nearestSeries(u: uPlot): number {
  const idx = u.cursor.idx;
  const top = u.cursor.top ?? 0;
  if (idx === null || idx === undefined) return -1;
  const length = u.data[0].length;
  for (let step = 0; step < length; step++) {
    let best = -1;
    let distance = Infinity;
    for (const at of step ? [idx - step, idx + step] : [idx]) {
      if (at < 0 || at >= length) continue;
      for (let s = 1; s < u.series.length; s++) {
        const v = u.data[s][at];
        if (!u.series[s].show || v === null || v === undefined || !Number.isFinite(v)) continue;
        const d = Math.abs(u.valToPos(v, "y") - top);
        if (d < distance) [best, distance] = [s - 1, d];
      }
    }
    if (best >= 0) return best;
  }
  return -1;
}

/**
 * Clicking the plot (not dragging across it) opens a menu of the links for the series
 * nearest the pointer; Escape, a click elsewhere or the next click closes it. Returns a
 * cleanup.
 */
export function attachDataLinks(u: uPlot, box: HTMLElement, links: DataLink[], scopeOf: (series: number) => LinkScope): () => void {
  let menu: HTMLElement | null = null;
  let down: [number, number] | null = null;
  const close = (): void => {
    menu?.remove();
    menu = null;
    document.removeEventListener("pointerdown", outside, true);
    document.removeEventListener("keydown", escape, true);
  };
  const outside = (ev: Event): void => {
    if (menu && !menu.contains(ev.target as Node) && !u.over.contains(ev.target as Node)) close();
  };
  const escape = (ev: KeyboardEvent): void => {
    if (ev.key === "Escape") close();
  };
  const press = (ev: MouseEvent): void => {
    down = [ev.clientX, ev.clientY];
  };
  const click = (ev: MouseEvent): void => {
    const moved = down !== null && Math.hypot(ev.clientX - down[0], ev.clientY - down[1]) > 3;
    down = null;
    close();
    if (moved) return;
    const series = nearestSeries(u);
    if (series < 0) return;
    const scope = scopeOf(series);
    const bounds = box.getBoundingClientRect();
    menu = h(
      "nav",
      { class: "data-links", "aria-label": "Data links" },
      links.map((link) => h("a", { href: dataLinkHref(link, scope), ...(link.targetBlank ? { target: "_blank", rel: "noopener" } : {}) }, fill(link.title, scope))),
    );
    menu.style.left = `${Math.max(0, ev.clientX - bounds.left)}px`;
    menu.style.top = `${Math.max(0, ev.clientY - bounds.top)}px`;
    box.append(menu);
    document.addEventListener("pointerdown", outside, true);
    document.addEventListener("keydown", escape, true);
  };
  u.over.addEventListener("mousedown", press);
  u.over.addEventListener("click", click);
  return () => {
    close();
    u.over.removeEventListener("mousedown", press);
    u.over.removeEventListener("click", click);
  };
}
