// vigil's UI: a nav bar and one page at a time, each page talking only to the HTTP APIs.
import "./style.css";
import { h, notice, replace } from "./dom";
import { type Cleanup, type Page, type Route, navigate, onNavigate } from "./router";
import { ZONE_PARAM, currentZone, zoneLabel } from "./timezone";
import { queryPage } from "./query";
import { targetsPage } from "./targets";
import { rulesPage } from "./rules";
import { alertsPage } from "./alerts";
import { silencesPage } from "./silences";
import { statusPage } from "./status";
import { logsPage } from "./logs";
import "./traces.css";
import { dashboardListPage, dashboardPage, homePage } from "./dashboards/pages";

/** The Traces page's code loads on its first visit (its styles are in app.css). */
const tracesPage: Page = async (root, route) => (await import("./traces")).tracesPage(root, route);

const ROUTES: [RegExp, Page][] = [
  [/^\/$/, homePage],
  [/^\/(?:query|graph)$/, queryPage],
  [/^\/targets$/, targetsPage],
  [/^\/rules$/, rulesPage],
  [/^\/alerts$/, alertsPage],
  [/^\/silences$/, silencesPage],
  [/^\/status$/, statusPage],
  [/^\/logs$/, logsPage],
  [/^\/traces$/, tracesPage],
  [/^\/traces\/([^/]+)$/, tracesPage],
  [/^\/dashboards$/, dashboardListPage],
  [/^\/d\/([^/]+)(?:\/[^/]*)?$/, dashboardPage],
];

/** The tab's title: the page's name (a dashboard names itself once loaded). */
function pageTitle(path: string): string {
  const section = path.startsWith("/traces/") ? "/traces" : path;
  const name = path.startsWith("/d/") || path === "/" ? "Dashboard" : NAV.find(([href]) => href === section)?.[1] ?? (path === "/graph" ? "Query" : "");
  return name ? `${name} - vigil` : "vigil";
}

const NAV: [string, string][] = [
  ["/dashboards", "Dashboards"],
  ["/query", "Query"],
  ["/logs", "Logs"],
  ["/traces", "Traces"],
  ["/alerts", "Alerts"],
  ["/rules", "Rules"],
  ["/targets", "Targets"],
  ["/silences", "Silences"],
  ["/status", "Status"],
];

let cleanup: Cleanup | void = undefined;
let generation = 0;

/** The time zone every page shows times in; a change redraws the page in it. */
function zonePicker(): HTMLSelectElement {
  const select = h(
    "select",
    { class: "zone", "aria-label": "Time zone", title: "Times on every page are shown in this zone" },
    h("option", { value: "browser" }, `Browser time (${zoneLabel("browser")})`),
    h("option", { value: "utc" }, "UTC"),
  );
  select.addEventListener("change", () => {
    const params = new URLSearchParams(location.search);
    if (select.value === "utc") params.set(ZONE_PARAM, "utc");
    else params.delete(ZONE_PARAM);
    const q = params.toString();
    history.replaceState(null, "", q ? `${location.pathname}?${q}` : location.pathname);
    navigate(location.pathname + location.search, true);
  });
  return select;
}

function shell(): { nav: HTMLElement; main: HTMLElement } {
  const nav = h(
    "nav",
    { class: "topbar", "aria-label": "Main" },
    h("a", { href: "/", class: "brand" }, "vigil"),
    h("ul", null, NAV.map(([href, text]) => h("li", null, h("a", { href }, text)))),
    zonePicker(),
  );
  const main = h("main", { id: "page", tabindex: "-1" });
  document.body.append(nav, main);
  return { nav, main };
}

async function render(nav: HTMLElement, main: HTMLElement): Promise<void> {
  const mine = ++generation;
  if (typeof cleanup === "function") cleanup();
  cleanup = undefined;
  const path = location.pathname;
  document.title = pageTitle(path);
  const zone = nav.querySelector("select.zone");
  if (zone instanceof HTMLSelectElement) zone.value = currentZone();
  for (const a of nav.querySelectorAll("ul a")) {
    const href = a.getAttribute("href") ?? "";
    if (path === href || (href === "/dashboards" && path.startsWith("/d/")) || (href === "/traces" && path.startsWith("/traces/"))) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  replace(main);
  for (const [pattern, page] of ROUTES) {
    const m = pattern.exec(path);
    if (!m) continue;
    const route: Route = { path, params: new URLSearchParams(location.search), args: m.slice(1).map(decodeURIComponent) };
    try {
      const done = await page(main, route);
      if (mine === generation) cleanup = done;
      else if (typeof done === "function") done();
    } catch (err) {
      main.append(notice("error", `This page failed: ${err instanceof Error ? err.message : String(err)}`));
    }
    return;
  }
  main.append(notice("warn", `No page at ${path}. `, h("a", { href: "/" }, "Home")));
}

function start(): void {
  const { nav, main } = shell();
  onNavigate(() => void render(nav, main));
  void render(nav, main);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
