// Client-side routes: real paths (/query, /alerts, /d/<uid>) so links can be shared and the
// server answers each with the same index.html.
import { keepZone } from "./timezone";

export interface Route {
  path: string;
  params: URLSearchParams;
  /** Captured path segments, e.g. the uid in /d/<uid>. */
  args: string[];
}

/** A page draws into `root`; what it returns is called when the user leaves it. */
export type Cleanup = () => void;
export type Page = (root: HTMLElement, route: Route) => Cleanup | void | Promise<Cleanup | void>;

type Listener = () => void;
const listeners: Listener[] = [];

export function onNavigate(listener: Listener): void {
  listeners.push(listener);
}

/**
 * Go to `href` inside the UI; `replace` rewrites the current history entry (used for state in
 * the URL). The chosen time zone goes along unless `href` names one.
 */
export function navigate(href: string, replace = false): void {
  href = keepZone(href);
  if (replace) history.replaceState(null, "", href);
  else history.pushState(null, "", href);
  for (const listener of listeners) listener();
}

/**
 * Keeps page state (query, range, variables) in the URL without reloading the page; `push`
 * adds a history entry (a new time range, so Back returns to the one before).
 */
export function setParams(params: URLSearchParams, push = false): void {
  const q = params.toString();
  const href = keepZone(q ? `${location.pathname}?${q}` : location.pathname);
  if (push && href !== location.pathname + location.search) history.pushState(null, "", href);
  else history.replaceState(null, "", href);
}

window.addEventListener("popstate", () => {
  for (const listener of listeners) listener();
});

/** Same-origin links are followed in the page instead of reloading it. */
document.addEventListener("click", (event) => {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  const a = (event.target as Element | null)?.closest?.("a");
  if (!a || a.target || a.hasAttribute("download")) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith("/api/") || url.pathname === "/metrics") return;
  event.preventDefault();
  navigate(url.pathname + url.search + url.hash);
});
