// The Alerts page's "Notifications" view: what the built-in Alertmanager holds, as
// Alertmanager's own UI shows it — alerts in their notification groups (receiver and group
// labels), active ones only unless "silenced" / "inhibited" are ticked (kept in the URL),
// each alert with its state, since when, what mutes it and a Silence link.
import { h, notice, pill, replace } from "./dom";
import { getJSON } from "./api";
import type { Labels } from "./api/types/labels";
import { errorText, labelChips, absTime, timeEl, matchesSearch } from "./pages/common";

export interface AlertGroup {
  labels: Labels;
  receiver: { name: string };
  alerts: {
    labels: Labels;
    annotations?: Labels;
    startsAt: string;
    fingerprint?: string;
    status: { state: string; silencedBy: string[]; inhibitedBy: string[] };
  }[];
}

export interface GroupFilters {
  silenced: boolean;
  inhibited: boolean;
}

/** Alertmanager's `GET /api/v2/alerts/groups` filters for these toggles (active always). */
export function groupParams(f: GroupFilters): Record<string, string> {
  return { active: "true", silenced: String(f.silenced), inhibited: String(f.inhibited) };
}

function groupKey(g: AlertGroup): string {
  return `${g.receiver.name}:${JSON.stringify(Object.entries(g.labels).sort())}`;
}

export function groupsView(
  list: HTMLElement,
  filters: GroupFilters,
  search: () => string,
  silenceLink: (labels: Labels) => string,
): () => Promise<void> {
  return async () => {
    let groups: AlertGroup[];
    try {
      groups = await getJSON<AlertGroup[]>("/api/v2/alerts/groups", groupParams(filters));
    } catch (err) {
      replace(list, notice("error", `Could not load the Alertmanager's alerts: ${errorText(err)}`));
      return;
    }
    const shown = groups
      .map((g) => ({ ...g, alerts: g.alerts.filter((a) => matchesSearch(search(), a.labels.alertname ?? "", a.labels)) }))
      .filter((g) => g.alerts.length)
      .sort((a, b) => groupKey(a).localeCompare(groupKey(b)));
    if (!shown.length) {
      const muted = filters.silenced && filters.inhibited ? "" : " (silenced or inhibited ones are hidden: tick them above to see them)";
      replace(list, notice("info", `The Alertmanager holds no alerts here${muted}.`));
      return;
    }
    replace(
      list,
      shown.map((g) =>
        h(
          "section",
          { class: "section am-group", "data-receiver": g.receiver.name },
          h(
            "div",
            { class: "section-head" },
            h("h2", { class: "title" }, "Receiver ", h("code", null, g.receiver.name)),
            Object.keys(g.labels).length ? labelChips(g.labels) : h("span", { class: "muted" }, "one group"),
            h("span", { class: "muted" }, `${g.alerts.length} alert${g.alerts.length === 1 ? "" : "s"}`),
          ),
          h(
            "table",
            { class: "data am-alerts" },
            h("thead", null, h("tr", null, ["Labels", "State", "Since", ""].map((t) => h("th", { scope: "col" }, t)))),
            h(
              "tbody",
              null,
              g.alerts.map((a) => {
                const silenced = a.status.silencedBy.length > 0;
                const inhibited = a.status.inhibitedBy.length > 0;
                return h(
                  "tr",
                  { class: "am-alert", "data-state": a.status.state },
                  h("td", null, labelChips(a.labels)),
                  h(
                    "td",
                    null,
                    pill(a.status.state === "active" ? "firing" : a.status.state, a.status.state),
                    silenced ? [" ", h("span", { title: `silenced by ${a.status.silencedBy.join(", ")}` }, pill("silenced"))] : null,
                    inhibited ? [" ", h("span", { title: `inhibited by ${a.status.inhibitedBy.join(", ")}` }, pill("inhibited"))] : null,
                  ),
                  h("td", null, h("span", null, absTime(a.startsAt)), h("div", { class: "muted" }, timeEl(a.startsAt))),
                  h("td", null, h("a", { class: "button silence-link", href: silenceLink(a.labels) }, silenced ? "Silence again" : "Silence")),
                );
              }),
            ),
          ),
        ),
      ),
    );
  };
}
