// Dashboard pages (being written).
import { h, notice } from "../dom";
import type { Route } from "../router";

export function homePage(root: HTMLElement, route: Route): void {
  dashboardListPage(root, route);
}

export function dashboardListPage(root: HTMLElement, _route: Route): void {
  root.append(h("h1", null, "Dashboards"), notice("info", "This page is being written."));
}

export function dashboardPage(root: HTMLElement, route: Route): void {
  root.append(h("h1", null, route.args[0] ?? ""), notice("info", "This page is being written."));
}
