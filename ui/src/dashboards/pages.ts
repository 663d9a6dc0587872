// Dashboard pages: the list (import, delete), a dashboard at /d/<uid>, and the home page
// (the built-in Node dashboard, or the list when it is missing).
import { APIError, promGet, sendJSON } from "../api";
import type { DashboardSummary, StoredDashboard } from "../api/types/dashboards";
import { h, notice, pill, replace } from "../dom";
import type { Route } from "../router";
import { renderDashboard } from "./dashboard";

const API = "/api/vigil/v1/dashboards";
const HOME_UID = "vigil-node";

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export async function homePage(root: HTMLElement, route: Route): Promise<(() => void) | void> {
  let stored: StoredDashboard;
  try {
    stored = await promGet<StoredDashboard>(`${API}/${HOME_UID}`);
  } catch {
    return dashboardListPage(root, route);
  }
  return renderDashboard(root, HOME_UID, stored.dashboard, route.params);
}

export async function dashboardPage(root: HTMLElement, route: Route): Promise<(() => void) | void> {
  const uid = route.args[0] ?? "";
  let stored: StoredDashboard;
  try {
    stored = await promGet<StoredDashboard>(`${API}/${encodeURIComponent(uid)}`);
  } catch (err) {
    const missing = err instanceof APIError && err.status === 404;
    root.append(
      h("h1", null, "Dashboard"),
      notice("error", missing ? `No dashboard with uid ${uid}. ` : `The dashboard could not be loaded: ${message(err)}. `, h("a", { href: "/dashboards" }, "All dashboards")),
    );
    return;
  }
  return renderDashboard(root, uid, stored.dashboard, route.params);
}

export async function dashboardListPage(root: HTMLElement, _route: Route): Promise<void> {
  const status = h("div", { "aria-live": "polite" });
  const listBox = h("div");
  const fileInput = h("input", { type: "file", id: "dashboard-file", name: "file", accept: ".json,application/json", required: true });
  const importError = h("div", { "aria-live": "assertive" });
  const form = h(
    "form",
    { class: "import-form", "aria-label": "Import a dashboard" },
    h("label", { for: "dashboard-file" }, "Import a Grafana dashboard (.json)"),
    fileInput,
    h("button", { type: "submit", class: "primary" }, "Import"),
  );
  root.append(h("h1", null, "Dashboards"), form, importError, status, listBox);

  const load = async (): Promise<void> => {
    let list: DashboardSummary[];
    try {
      list = await promGet<DashboardSummary[]>(API);
    } catch (err) {
      replace(listBox, notice("error", `The dashboards could not be listed: ${message(err)}`));
      return;
    }
    list.sort((a, b) => Number(b.builtin === true) - Number(a.builtin === true) || a.title.localeCompare(b.title));
    if (!list.length) {
      replace(listBox, notice("info", "No dashboards yet. Import one exported from Grafana."));
      return;
    }
    const rows = list.map((d) =>
      h(
        "tr",
        { "data-uid": d.uid },
        h("td", null, h("a", { href: `/d/${encodeURIComponent(d.uid)}` }, d.title || d.uid), d.builtin ? pill("builtin", "built-in") : null),
        h("td", null, h("span", { class: "labels" }, (d.tags ?? []).map((t) => h("span", { class: "label" }, t)))),
        h("td", { class: "num" }, d.panels ?? ""),
        h("td", { class: "muted" }, d.updated ?? ""),
        h("td", null, d.builtin ? null : h("button", { type: "button", "aria-label": `Delete ${d.title || d.uid}`, onclick: () => void remove(d) }, "Delete")),
      ),
    );
    replace(
      listBox,
      h(
        "table",
        { class: "data dash-list" },
        h("thead", null, h("tr", null, ["Title", "Tags", "Panels", "Updated", ""].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", null, rows),
      ),
    );
  };

  const remove = async (d: DashboardSummary): Promise<void> => {
    if (!window.confirm(`Delete the dashboard "${d.title || d.uid}"?`)) return;
    try {
      await sendJSON("DELETE", `${API}/${encodeURIComponent(d.uid)}`);
      replace(status, notice("info", `Deleted ${d.title || d.uid}.`));
    } catch (err) {
      replace(status, notice("error", `Could not delete ${d.title || d.uid}: ${message(err)}`));
    }
    await load();
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void (async () => {
      replace(importError);
      const file = fileInput.files?.[0];
      if (!file) {
        replace(importError, notice("error", "Choose a .json file exported from Grafana."));
        return;
      }
      let body: unknown;
      try {
        body = JSON.parse(await file.text());
      } catch (err) {
        replace(importError, notice("error", `${file.name} is not JSON: ${message(err)}`));
        return;
      }
      try {
        const made = await sendJSON<{ status?: string; data?: DashboardSummary }>("POST", API, body);
        const s = made.data;
        replace(importError, notice("info", "Imported ", s ? h("a", { href: `/d/${encodeURIComponent(s.uid)}` }, s.title || s.uid) : file.name, "."));
        form.reset();
      } catch (err) {
        replace(importError, notice("error", `${file.name} was not imported: ${message(err)}`));
      }
      await load();
    })();
  });

  await load();
}
