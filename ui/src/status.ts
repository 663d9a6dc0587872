// The Status page (being written).
import { h, notice } from "./dom";
import type { Route } from "./router";

export function statusPage(root: HTMLElement, _route: Route): void {
  root.append(h("h1", null, "Status"), notice("info", "This page is being written."));
}
