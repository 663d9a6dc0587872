// The Silences page (being written).
import { h, notice } from "./dom";
import type { Route } from "./router";

export function silencesPage(root: HTMLElement, _route: Route): void {
  root.append(h("h1", null, "Silences"), notice("info", "This page is being written."));
}
