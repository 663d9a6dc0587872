// The Logs page's label browser: the label names of the range's streams; a name opens onto its
// values, and a value picked adds `name="value"` to the query's selector.
import { getJSON } from "./api";
import { h, replace } from "./dom";

type Span = () => [bigint, bigint];

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export interface LabelBrowser {
  el: HTMLElement;
  /** Asks again for the names, over the span as it is now. */
  reload: () => Promise<void>;
}

export function labelBrowser(span: Span, pick: (name: string, value: string) => void): LabelBrowser {
  const names = h("div", { class: "logs-label-names", role: "group", "aria-label": "Label names" });
  const values = h("div", { class: "logs-label-values", role: "group", "aria-label": "Label values" });
  let asked = 0;

  function params(): Record<string, string> {
    const [start, end] = span();
    return { start: String(start), end: String(end) };
  }

  async function open(name: string, button: HTMLButtonElement): Promise<void> {
    const mine = ++asked;
    for (const b of names.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b === button));
    replace(values, h("span", { class: "muted" }, `Loading values of ${name}…`));
    try {
      const body = await getJSON<{ data?: string[] }>(`/loki/api/v1/label/${encodeURIComponent(name)}/values`, params());
      if (mine !== asked) return;
      const list = body.data ?? [];
      replace(
        values,
        list.length
          ? list.map((value) =>
              h("button", { type: "button", class: "label", title: `Add ${name}="${value}" to the selector`, onclick: () => pick(name, value) }, value),
            )
          : h("span", { class: "muted" }, `No values of ${name} in this range.`),
      );
    } catch (err) {
      if (mine === asked) replace(values, h("span", { class: "muted" }, message(err)));
    }
  }

  async function reload(): Promise<void> {
    const mine = ++asked;
    replace(values);
    try {
      const body = await getJSON<{ data?: string[] }>("/loki/api/v1/labels", params());
      if (mine !== asked) return;
      const list = body.data ?? [];
      replace(
        names,
        list.length
          ? list.map((name) => {
              const button: HTMLButtonElement = h("button", { type: "button", "aria-pressed": "false", onclick: () => void open(name, button) }, name);
              return button;
            })
          : h("span", { class: "muted" }, "No streams in this range."),
      );
    } catch (err) {
      if (mine === asked) replace(names, h("span", { class: "muted" }, message(err)));
    }
  }

  const el = h("details", { class: "logs-labels", open: true }, h("summary", null, "Label browser"), names, values);
  return { el, reload };
}
