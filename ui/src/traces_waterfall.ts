// One trace as a waterfall: its span tree indented on the left (each subtree foldable), each
// span's bar on the trace's time axis, coloured by service, errors marked. A span opens (click,
// Enter or Space) onto its attributes, resource, events and links.
import { getJSON } from "./api";
import { type Child, h, notice, replace } from "./dom";
import { type Attr, type SpanRow, type Trace, type TraceAnswer, type TraceSpan, formatNs, shownRows, spansOf, traceOf } from "./traces_model";
import { logsHref, searchHref, serviceDashboardHref, traceHref } from "./traces_links";
import { stamp } from "./timezone";

const PALETTE = 10;
const TICKS = [0, 0.25, 0.5, 0.75, 1];

/** A service's colour slot (traces.css has PALETTE of them), by its order in the trace. */
function colour(trace: Trace, service: string): string {
  return String(trace.services.indexOf(service) % PALETTE);
}

function ns(value: bigint): number {
  return Number(value);
}

function fieldList(title: string, attrs: Attr[]): HTMLElement | null {
  if (!attrs.length) return null;
  const sorted = [...attrs].sort(([a], [b]) => a.localeCompare(b));
  return h("section", { class: "span-fields" }, title ? h("h3", null, title) : null, h("dl", null, sorted.map(([k, v]) => [h("dt", null, k), h("dd", null, v)])));
}

function facts(pairs: [string, Child][]): HTMLDListElement {
  return h("dl", { class: "span-facts" }, pairs.map(([k, v]) => [h("dt", null, k), h("dd", null, v)]));
}

function spanDetail(trace: Trace, span: TraceSpan, id: string): HTMLElement {
  const offset = (t: bigint): string => `+${formatNs(ns(t - trace.startNs))}`;
  return h(
    "div",
    { class: "span-detail", id, role: "region", "aria-label": `Span ${span.name}` },
    facts([
      ["Service", span.service],
      ["Span ID", h("code", null, span.spanId)],
      ["Parent span ID", span.parentId ? h("code", null, span.parentId) : "none (root)"],
      ["Kind", span.kind],
      ["Status", [span.status, span.statusMessage ? `: ${span.statusMessage}` : ""]],
      ["Start", `${offset(span.startNs)} (${stamp(ns(span.startNs / 1_000_000n))})`],
      ["Duration", formatNs(ns(span.endNs - span.startNs))],
      ["Scope", span.scope || "none"],
    ]),
    fieldList("Attributes", span.attributes),
    fieldList("Resource", span.resource),
    span.events.length
      ? h(
          "section",
          { class: "span-fields span-events" },
          h("h3", null, "Events"),
          h("ol", null, span.events.map((e) => h("li", null, h("span", { class: "muted" }, offset(e.timeNs)), " ", h("b", null, e.name), fieldList("", e.attributes)))),
        )
      : null,
    span.links.length
      ? h(
          "section",
          { class: "span-fields span-links" },
          h("h3", null, "Links"),
          h("ul", null, span.links.map((l) => h("li", null, h("a", { href: traceHref(l.traceId) }, l.traceId), " span ", h("code", null, l.spanId), fieldList("", l.attributes)))),
        )
      : null,
  );
}

function spanRow(trace: Trace, row: SpanRow, index: number, fold: (index: number) => void): HTMLElement {
  const { span } = row;
  const total = Math.max(1, ns(trace.endNs - trace.startNs));
  const left = (ns(span.startNs - trace.startNs) / total) * 100;
  const width = (ns(span.endNs - span.startNs) / total) * 100;
  const detailId = `span-detail-${index}`;
  const bar = h("span", { class: "wf-bar" });
  bar.style.left = `${left.toFixed(3)}%`;
  bar.style.width = `${width.toFixed(3)}%`;
  const label = h("span", { class: "wf-duration" }, formatNs(ns(span.endNs - span.startNs)));
  label.style.left = `${Math.min(left + width, 100).toFixed(3)}%`;
  const name = h(
    "span",
    { class: "wf-name" },
    h("span", { class: "wf-service" }, span.service),
    " ",
    span.name,
    span.status === "error" ? [" ", h("span", { class: "pill err wf-error", title: span.statusMessage || "error" }, "error")] : null,
    row.orphan ? h("span", { class: "muted", title: `parent ${span.parentId} is not in this trace` }, " (parent missing)") : null,
  );
  name.style.paddingLeft = `${row.depth * 14 + 22}px`;
  const button = h(
    "button",
    {
      type: "button",
      class: "wf-row",
      "aria-expanded": "false",
      "aria-controls": detailId,
      "data-service": colour(trace, span.service),
      "data-status": span.status,
      "data-span-id": span.spanId,
    },
    name,
    h("span", { class: "wf-track" }, bar, label),
  );
  const slot = h("div", { class: "wf-detail-slot" });
  button.addEventListener("click", () => {
    const open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    replace(slot, open ? spanDetail(trace, span, detailId) : null);
  });
  const below = (trace.rows[index + 1]?.depth ?? -1) > row.depth;
  const toggle = below
    ? h("button", { type: "button", class: "wf-fold", "aria-expanded": "true", "aria-label": `Spans under ${span.service} ${span.name}`, onclick: () => fold(index) }, "▾")
    : null;
  if (toggle) toggle.style.left = `${row.depth * 14 + 4}px`;
  return h("div", { class: "wf-item" }, toggle, button, slot);
}

/** The rows, each subtree foldable from its parent's ▾. */
function spanRows(trace: Trace): HTMLElement[] {
  const folded = new Set<number>();
  const items: HTMLElement[] = [];
  const fold = (index: number): void => {
    if (folded.has(index)) folded.delete(index);
    else folded.add(index);
    const toggle = items[index].querySelector(".wf-fold");
    toggle?.setAttribute("aria-expanded", String(!folded.has(index)));
    if (toggle) toggle.textContent = folded.has(index) ? "▸" : "▾";
    const shown = shownRows(trace.rows.map((r) => r.depth), folded);
    items.forEach((item, i) => (item.hidden = !shown[i]));
  };
  trace.rows.forEach((row, i) => items.push(spanRow(trace, row, i, fold)));
  return items;
}

function axis(trace: Trace): HTMLElement {
  const total = ns(trace.endNs - trace.startNs);
  return h(
    "div",
    { class: "wf-head", "aria-hidden": "true" },
    h("span", { class: "wf-name" }, "Service and span"),
    h(
      "span",
      { class: "wf-track wf-axis" },
      TICKS.map((f) => {
        const tick = h("span", { class: "wf-tick" }, formatNs(Math.round(total * f)));
        tick.style.left = `${f * 100}%`;
        return tick;
      }),
    ),
  );
}

function header(trace: Trace): HTMLElement {
  const root = trace.root;
  const startMs = ns(trace.startNs / 1_000_000n);
  const endMs = ns(trace.endNs / 1_000_000n);
  return h(
    "header",
    { class: "trace-head" },
    h("h1", null, root ? `${root.service}: ${root.name}` : "Trace"),
    h(
      "dl",
      { class: "trace-facts" },
      h("dt", null, "Trace ID"),
      h("dd", null, h("code", { class: "trace-id" }, trace.traceId)),
      h("dt", null, "Started"),
      h("dd", null, stamp(startMs)),
      h("dt", null, "Duration"),
      h("dd", null, formatNs(ns(trace.endNs - trace.startNs))),
      h("dt", null, "Spans"),
      h("dd", { class: "trace-span-count" }, String(trace.rows.length)),
      h("dt", null, "Errors"),
      h("dd", { class: trace.errors ? "failing" : null }, String(trace.errors)),
    ),
    h(
      "div",
      { class: "trace-services", role: "list", "aria-label": "Services" },
      trace.services.map((s) =>
        h(
          "span",
          { class: "trace-service", role: "listitem", "data-service": colour(trace, s) },
          h("span", { class: "trace-swatch", "aria-hidden": "true" }),
          s,
          " ",
          h("a", { href: serviceDashboardHref(s), "aria-label": `${s} on the Services dashboard` }, "dashboard"),
          " ",
          h("a", { href: searchHref(s), "aria-label": `Search ${s}'s traces` }, "traces"),
        ),
      ),
    ),
    h("p", { class: "trace-links" }, h("a", { class: "button", href: logsHref(trace.traceId, trace.services, startMs, endMs) }, "Logs for this trace")),
  );
}

/** The waterfall of an already read trace. */
export function waterfall(trace: Trace): HTMLElement {
  return h(
    "section",
    { class: "trace-view" },
    header(trace),
    h("div", { class: "waterfall", role: "group", "aria-label": "Spans" }, axis(trace), spanRows(trace)),
  );
}

/** Loads trace `id` from Tempo's API into `root`. */
export async function showTrace(root: HTMLElement, id: string, current: () => boolean): Promise<void> {
  root.dataset.state = "loading";
  try {
    const answer = await getJSON<TraceAnswer>(`/tempo/api/v2/traces/${encodeURIComponent(id)}`);
    if (!current()) return;
    const spans = spansOf(answer);
    if (!spans.length) {
      replace(root, notice("warn", `Trace ${id} has no spans.`));
      root.dataset.state = "empty";
      return;
    }
    replace(root, waterfall(traceOf(spans[0].traceId || id, spans)));
    root.dataset.state = "done";
  } catch (err) {
    if (!current()) return;
    const status = (err as { status?: number }).status;
    replace(
      root,
      status === 404
        ? notice("warn", `No trace with ID ${id}: it was never received, or retention has removed it.`)
        : notice("error", `Could not load trace ${id}: ${err instanceof Error ? err.message : String(err)}`),
    );
    root.dataset.state = "error";
  }
}
