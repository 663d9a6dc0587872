// The Rules page (being written).
import { h, notice } from "./dom";
import type { Route } from "./router";

export function rulesPage(root: HTMLElement, _route: Route): void {
  root.append(h("h1", null, "Rules"), notice("info", "This page is being written."));
}
