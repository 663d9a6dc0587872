// Helpers shared by the Targets, Rules, Alerts, Silences and Status pages: label chips, times,
// matchers, polling. Everything renders through h(), so every string stays text.
import "./pages.css";
import type { APIMatcher } from "../api/types/am-matcher";
import type { Labels } from "../api/types/labels";
import { type Child, h, humanDuration } from "../dom";
import { stamp } from "../timezone";

/** Labels as Prometheus's pages show them: one `name="value"` chip each, sorted by name. */
export function labelChips(labels: Labels, omit: readonly string[] = []): HTMLDivElement {
  const names = Object.keys(labels).filter((k) => !omit.includes(k)).sort();
  return h(
    "div",
    { class: "labels" },
    names.length ? names.map((k) => h("span", { class: "label" }, `${k}=${JSON.stringify(labels[k])}`)) : h("span", { class: "muted" }, "no labels"),
  );
}

/** Milliseconds since the epoch from an RFC 3339 string (NaN when absent or the zero time). */
export function toMs(when: string | number | undefined | null): number {
  if (when === undefined || when === null || when === "") return NaN;
  const t = typeof when === "number" ? when : Date.parse(when);
  return Number.isFinite(t) && t > 0 ? t : NaN;
}

/** `2026-11-25 17:45:41 UTC`: an absolute time in the chosen time zone, which it names. */
export function absTime(when: string | number | undefined | null): string {
  const t = toMs(when);
  return Number.isNaN(t) ? "never" : stamp(t);
}

/** "in 1h 59m" / "3.2s ago" relative to now. */
export function relative(when: string | number, now: number = Date.now()): string {
  const t = toMs(when);
  if (Number.isNaN(t)) return "never";
  return t > now ? `in ${humanDuration(t - now)}` : `${humanDuration(now - t)} ago`;
}

/** A <time> element: the absolute time as its title, the relative time as text (or vice versa). */
export function timeEl(when: string | number | undefined | null, mode: "relative" | "absolute" = "relative"): HTMLElement {
  const t = toMs(when);
  if (Number.isNaN(t)) return h("span", { class: "muted" }, "never");
  const iso = new Date(t).toISOString();
  return mode === "relative"
    ? h("time", { datetime: iso, title: absTime(t) }, relative(t))
    : h("time", { datetime: iso, title: relative(t) }, absTime(t));
}

/** A duration in seconds as the API reports it (e.g. a scrape's 0.0042) for people: "4.2ms". */
export function seconds(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s)) return "–";
  if (s < 0.001) return `${(s * 1e6).toFixed(0)}µs`;
  if (s < 1) return `${(s * 1000).toFixed(s < 0.01 ? 2 : 1)}ms`;
  return `${s.toFixed(3)}s`;
}

// ---- matchers, as Alertmanager writes them (`name="value"`, `name=~"re"`)

export type MatchOp = "=" | "!=" | "=~" | "!~";
export const MATCH_OPS: MatchOp[] = ["=", "!=", "=~", "!~"];

export interface Matcher {
  name: string;
  value: string;
  op: MatchOp;
}

export function fromAPI(m: APIMatcher): Matcher {
  const eq = m.isEqual !== false;
  return { name: m.name, value: m.value, op: m.isRegex ? (eq ? "=~" : "!~") : eq ? "=" : "!=" };
}

export function toAPI(m: Matcher): APIMatcher {
  return { name: m.name, value: m.value, isRegex: m.op.endsWith("~"), isEqual: m.op.startsWith("=") };
}

export function matcherText(m: Matcher): string {
  return `${m.name}${m.op}${JSON.stringify(m.value)}`;
}

/** Reads `name="value"` (a double-quoted, backslash-escaped value) or `name=value`; null if malformed. */
export function parseMatcher(text: string): Matcher | null {
  const m = /^\s*([^\s=!~"]+)\s*(=~|!~|!=|=)\s*(.*?)\s*$/.exec(text);
  if (!m) return null;
  let value = m[3];
  if (value.startsWith('"')) {
    try {
      const parsed: unknown = JSON.parse(value);
      if (typeof parsed !== "string") return null;
      value = parsed;
    } catch {
      return null;
    }
  }
  return { name: m[1], op: m[2] as MatchOp, value };
}

export function matcherChips(matchers: Matcher[]): HTMLDivElement {
  return h("div", { class: "labels" }, matchers.map((m) => h("span", { class: "label" }, matcherText(m))));
}

// ---- page plumbing

/** Calls `tick` every `ms` until the returned function is called; ticks never overlap. */
export function poll(ms: number, tick: () => Promise<void>): () => void {
  let stopped = false;
  let timer = 0;
  const loop = async (): Promise<void> => {
    if (stopped) return;
    try {
      await tick();
    } finally {
      if (!stopped) timer = window.setTimeout(() => void loop(), ms);
    }
  };
  timer = window.setTimeout(() => void loop(), ms);
  return () => {
    stopped = true;
    window.clearTimeout(timer);
  };
}

/** A toggle button for filters: `aria-pressed` says whether it is on. */
export function toggle(text: Child, pressed: boolean, onclick: () => void, attrs: Record<string, string> = {}): HTMLButtonElement {
  return h("button", { type: "button", class: "toggle", "aria-pressed": pressed ? "true" : "false", onclick, ...attrs }, text);
}

/** Case-insensitive substring search over the strings of a record or list. */
export function matchesSearch(needle: string, ...haystacks: (string | Labels | undefined)[]): boolean {
  const n = needle.trim().toLowerCase();
  if (!n) return true;
  for (const hay of haystacks) {
    if (hay === undefined) continue;
    if (typeof hay === "string") {
      if (hay.toLowerCase().includes(n)) return true;
    } else {
      for (const [k, v] of Object.entries(hay)) {
        if (`${k}="${v}"`.toLowerCase().includes(n) || v.toLowerCase().includes(n)) return true;
      }
    }
  }
  return false;
}

/** A search box bound to a URL parameter; `onchange` runs on each keystroke. */
export function searchBox(label: string, value: string, onchange: (value: string) => void): HTMLLabelElement {
  const input = h("input", {
    type: "search",
    value,
    placeholder: label,
    "aria-label": label,
    oninput: (e: Event) => onchange((e.target as HTMLInputElement).value),
  });
  return h("label", { class: "search" }, input);
}

/** In-page anchor links that scroll instead of re-rendering through the router. */
export function jumpLink(targetId: string, text: string): HTMLAnchorElement {
  return h(
    "a",
    {
      href: `#${targetId}`,
      onclick: (e: Event) => {
        e.preventDefault();
        const el = document.getElementById(targetId);
        if (el) {
          el.scrollIntoView({ block: "start" });
          el.focus({ preventScroll: true });
        }
        history.replaceState(null, "", `${location.pathname}${location.search}#${targetId}`);
      },
    },
    text,
  );
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** `1.2 MiB` for a byte count. */
export function bytes(n: number): string {
  if (!Number.isFinite(n)) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i ? v.toFixed(1) : v} ${units[i]}`;
}
