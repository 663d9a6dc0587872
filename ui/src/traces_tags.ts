// The Traces page's tag browser: the tag names of the range's spans (Tempo's tag API); a name
// opens onto its values, and a value picked adds `name=value` to the search's tags.
import { getJSON } from "./api";
import { h, replace } from "./dom";
import { tagText } from "./traces_traceql";

type Range = () => [startS: number, endS: number];

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A closed browser that asks for the names when first opened. */
export function tagBrowser(range: Range, pick: (tag: string) => void): HTMLDetailsElement {
  const names = h("div", { class: "traces-tag-names", role: "group", "aria-label": "Tag names" });
  const values = h("div", { class: "traces-tag-values", role: "group", "aria-label": "Tag values" });
  let asked = 0;

  function params(): Record<string, string> {
    const [start, end] = range();
    return { start: String(start), end: String(end) };
  }

  async function open(name: string, button: HTMLButtonElement): Promise<void> {
    const mine = ++asked;
    for (const b of names.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b === button));
    replace(values, h("span", { class: "muted" }, `Loading values of ${name}…`));
    try {
      const body = await getJSON<{ tagValues?: string[] }>(`/tempo/api/search/tag/${encodeURIComponent(name)}/values`, params());
      if (mine !== asked) return;
      const list = body.tagValues ?? [];
      replace(
        values,
        list.length
          ? list.map((value) => h("button", { type: "button", title: `Search for ${tagText(name, value)}`, onclick: () => pick(tagText(name, value)) }, value))
          : h("span", { class: "muted" }, `No values of ${name} in this range.`),
      );
    } catch (err) {
      if (mine === asked) replace(values, h("span", { class: "muted" }, message(err)));
    }
  }

  async function load(): Promise<void> {
    const mine = ++asked;
    try {
      const body = await getJSON<{ tagNames?: string[] }>("/tempo/api/search/tags", params());
      if (mine !== asked) return;
      const list = body.tagNames ?? [];
      replace(
        names,
        list.length
          ? list.map((name) => {
              const button: HTMLButtonElement = h("button", { type: "button", "aria-pressed": "false", onclick: () => void open(name, button) }, name);
              return button;
            })
          : h("span", { class: "muted" }, "No span tags in this range."),
      );
    } catch (err) {
      if (mine === asked) replace(names, h("span", { class: "muted" }, message(err)));
    }
  }

  const el = h("details", { class: "traces-tags" }, h("summary", null, "Tag browser"), names, values);
  el.addEventListener("toggle", () => void load(), { once: true });
  return el;
}
