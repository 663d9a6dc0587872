// The Query page (being written).
import { h, notice } from "./dom";
import type { Route } from "./router";

export function queryPage(root: HTMLElement, _route: Route): void {
  root.append(h("h1", null, "Query"), notice("info", "This page is being written."));
}
