// The Alerts page (being written).
import { h, notice } from "./dom";
import type { Route } from "./router";

export function alertsPage(root: HTMLElement, _route: Route): void {
  root.append(h("h1", null, "Alerts"), notice("info", "This page is being written."));
}
