// The Targets page (being written).
import { h, notice } from "./dom";
import type { Route } from "./router";

export function targetsPage(root: HTMLElement, _route: Route): void {
  root.append(h("h1", null, "Targets"), notice("info", "This page is being written."));
}
