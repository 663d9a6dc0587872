// The built-in Alertmanager's route tree and receivers, as Alertmanager's status page and
// routing tree show them: each route's matchers, receiver, grouping, timers and `continue`.
import type { Delivery, RouteNode } from "../api/types/delivery";
import { type Child, h } from "../dom";

function options(route: RouteNode): string {
  const group = route.groupBy.length ? `group by ${route.groupBy.join(", ")}` : "no grouping";
  return `${group} · wait ${route.groupWait} · interval ${route.groupInterval} · repeat ${route.repeatInterval}`;
}

function routeItem(route: RouteNode, root: boolean): HTMLElement {
  const match: Child = root
    ? h("span", { class: "route-match muted" }, "every alert")
    : route.matchers.length
      ? h("span", { class: "route-match" }, route.matchers.map((m) => h("code", null, m)))
      : h("span", { class: "route-match muted" }, "any alert");
  const times = [
    route.muteTimeIntervals.length ? `muted during ${route.muteTimeIntervals.join(", ")}` : "",
    route.activeTimeIntervals.length ? `active during ${route.activeTimeIntervals.join(", ")}` : "",
  ].filter(Boolean);
  return h(
    "li",
    { class: "route", "data-receiver": route.receiver },
    h("div", { class: "route-head" }, match, h("span", { class: "route-arrow", "aria-hidden": "true" }, " → "),
      h("span", { class: "route-receiver" }, route.receiver),
      route.continue ? h("span", { class: "pill route-continue", title: "Later sibling routes are tried too" }, "continue") : null),
    h("div", { class: "route-options muted" }, [options(route), ...times].join(" · ")),
    route.routes.length ? h("ul", { class: "route-tree" }, route.routes.map((r) => routeItem(r, false))) : null,
  );
}

export function routingView(d: Delivery): HTMLElement {
  return h(
    "div",
    { class: "routing" },
    h("h3", null, "Routing tree"),
    h("ul", { class: "route-tree", "aria-label": "Routing tree" }, routeItem(d.route, true)),
    h("h3", null, "Receivers"),
    h(
      "table",
      { class: "data receivers", "aria-label": "Receivers" },
      h("thead", null, h("tr", null, h("th", { scope: "col" }, "Receiver"), h("th", { scope: "col" }, "Integrations"))),
      h("tbody", null, d.receivers.map((r) => h("tr", { "data-receiver": r.name }, h("td", null, r.name),
        h("td", null, r.integrations.length ? r.integrations.join(", ") : h("span", { class: "muted" }, "none: alerts routed here are sent nowhere"))))),
    ),
  );
}
