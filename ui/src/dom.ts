// Building DOM nodes. Strings always become text nodes, never markup: a label value such as
// `<img src=x onerror=alert(1)>` shows as text. No module of the UI assigns innerHTML.

export type Child = Node | string | number | null | undefined | false | Child[];
export type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

/** `h("a", {href: "/x", onclick: f}, "text", child)`: an element; `on*` attributes are listeners. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attrs | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith("on") && typeof value === "function") {
        el.addEventListener(key.slice(2), value);
      } else if (key === "value" && "value" in el) {
        (el as HTMLInputElement).value = String(value);
      } else if (key === "checked" && "checked" in el) {
        (el as HTMLInputElement).checked = Boolean(value);
      } else {
        el.setAttribute(key, value === true ? "" : String(value));
      }
    }
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else if (child instanceof Node) parent.appendChild(child);
    else parent.appendChild(document.createTextNode(String(child)));
  }
}

/** Replaces everything inside `el` with `children`. */
export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** A small SVG icon-free status pill: `pill("firing")` gets the class `pill firing`. */
export function pill(state: string, text?: string): HTMLSpanElement {
  return h("span", { class: `pill ${state.toLowerCase()}` }, text ?? state);
}

/** Relative age of a time, as Prometheus's pages show it ("12.3s ago"). */
export function ago(when: string | number | Date, now: number = Date.now()): string {
  const t = when instanceof Date ? when.getTime() : typeof when === "number" ? when : Date.parse(when);
  if (!Number.isFinite(t) || t <= 0) return "never";
  return `${humanDuration(now - t)} ago`;
}

export function humanDuration(ms: number): string {
  const s = Math.abs(ms) / 1000;
  if (s < 1) return `${Math.round(s * 1000)}ms`;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)}s`;
  const parts: string[] = [];
  let rest = Math.floor(s);
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.slice(0, 2).join(" ");
}

/** `{__name__="up", job="x"}` as Prometheus prints a series: `up{job="x"}`. */
export function seriesName(metric: Record<string, string>): string {
  const name = metric.__name__ ?? "";
  const labels = Object.entries(metric)
    .filter(([k]) => k !== "__name__")
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return labels.length || !name ? `${name}{${labels.join(", ")}}` : name;
}

/** A message box for errors and empty states; `kind` is "error", "info" or "warn". */
export function notice(kind: "error" | "info" | "warn", ...children: Child[]): HTMLDivElement {
  return h("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, ...children);
}
