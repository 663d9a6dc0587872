// The Alerts page: Prometheus's — alerting rules by file and group, firing first, then pending,
// then inactive, filtered by state (checkboxes kept in the URL), each rule with its severity and
// expandable to its definition and active alerts (labels, state, active since, value,
// annotations), each alert with a "Silence" link that opens the Silences page's form prefilled
// with the alert's labels. When the built-in Alertmanager can send nowhere, the page says so.
import { h, notice, pill, replace } from "./dom";
import { getJSON, promGet } from "./api";
import { type Route, setParams } from "./router";
import type { AMAlert } from "./api/types/am-alerts";
import type { Delivery } from "./api/types/delivery";
import type { Labels } from "./api/types/labels";
import type { ActiveAlert, AlertingRule, RuleGroup, RulesData } from "./api/types/rules";
import { errorText, labelChips, matchesSearch, matcherText, searchBox, absTime, timeEl } from "./pages/common";
import { formatValue, ruleFileName, ruleText } from "./pages/rules-api";
import { containerLogsLink } from "./pages/alert-links";
import { groupsView } from "./alerts_groups";

type State = "inactive" | "pending" | "firing";
/** In the order the page lists them: what needs attention first. */
const STATES: State[] = ["firing", "pending", "inactive"];
const rank = (s: State): number => STATES.indexOf(s);


function labelsKey(labels: Labels): string {
  return JSON.stringify(Object.keys(labels).sort().map((k) => [k, labels[k]]));
}

/** /silences?new=1&matcher=... : the new-silence form with one equality matcher per label. */
export function silenceLink(labels: Labels): string {
  const p = new URLSearchParams();
  p.set("new", "1");
  for (const name of Object.keys(labels).sort()) p.append("matcher", matcherText({ name, op: "=", value: labels[name] }));
  return `/silences?${p.toString()}`;
}

export async function alertsPage(root: HTMLElement, route: Route): Promise<void> {
  const params = new URLSearchParams(route.params);
  const chosen = new Set<State>(
    params.has("state") ? (params.get("state") ?? "").split(",").filter((s): s is State => STATES.includes(s as State)) : STATES,
  );
  let search = params.get("search") ?? "";
  const open = new Set(params.getAll("open"));
  let view: "rules" | "groups" = params.get("view") === "groups" ? "groups" : "rules";
  const muted = { silenced: params.get("silenced") === "1", inhibited: params.get("inhibited") === "1" };
  let groups: RuleGroup[] | null = null;
  const amStatus = new Map<string, AMAlert["status"]>();

  const filters = h("div", { class: "tabs", role: "group", "aria-label": "Show rules by state" });
  const list = h("div");
  const save = (): void => {
    const p = new URLSearchParams();
    if (chosen.size !== STATES.length) p.set("state", STATES.filter((s) => chosen.has(s)).join(","));
    if (search) p.set("search", search);
    for (const key of [...open].sort()) p.append("open", key);
    if (view === "groups") p.set("view", "groups");
    if (muted.silenced) p.set("silenced", "1");
    if (muted.inhibited) p.set("inhibited", "1");
    setParams(p);
  };
  const loadGroups = groupsView(list, muted, () => search, silenceLink);

  let sendsNowhere = false;
  const delivery = h("div");
  const rulesOf = (g: RuleGroup): AlertingRule[] =>
    g.rules.filter((r): r is AlertingRule => r.type === "alerting").sort((a, b) => rank(a.state) - rank(b.state));
  const worst = (g: RuleGroup): number => Math.min(rank("inactive"), ...rulesOf(g).map((r) => rank(r.state)));

  const drawFilters = (): void => {
    const counts: Record<State, number> = { inactive: 0, pending: 0, firing: 0 };
    for (const g of groups ?? []) for (const r of rulesOf(g)) counts[r.state]++;
    replace(
      filters,
      STATES.map((state) =>
        h(
          "label",
          { class: "state-filter" },
          h("input", {
            type: "checkbox",
            name: state,
            checked: chosen.has(state),
            onchange: (e: Event) => {
              if ((e.target as HTMLInputElement).checked) chosen.add(state);
              else chosen.delete(state);
              save();
              draw();
            },
          }),
          " ",
          pill(state, `${state[0].toUpperCase()}${state.slice(1)} (${counts[state]})`),
        ),
      ),
    );
  };

  const setOpen = (keys: string[], value: boolean): void => {
    for (const k of keys) {
      if (value) open.add(k);
      else open.delete(k);
    }
    save();
  };

  const draw = (): void => {
    if (view === "groups") {
      void loadGroups();
      return;
    }
    if (groups === null) return;
    drawFilters();
    replace(
      delivery,
      sendsNowhere
        ? notice(
            "warn",
            h("b", null, "Alerts are shown here and sent nowhere: "),
            "the built-in Alertmanager's route ends at receivers with no integrations (the shipped default ",
            h("code", null, '"null"'),
            "). To be notified, add a receiver as the README's “Send alerts to Slack” shows, then check it with ",
            h("code", null, "vigil alertmanager test-receiver NAME --config.file=alertmanager.yml"),
            ".",
          )
        : null,
    );
    const sections: HTMLElement[] = [];
    for (const g of [...groups].sort((a, b) => worst(a) - worst(b))) {
      const rules = rulesOf(g).filter(
        (r) => chosen.has(r.state) && matchesSearch(search, r.name, r.labels, ...r.alerts.map((a) => a.labels)),
      );
      if (!rules.length) continue;
      sections.push(
        h(
          "section",
          { class: "section alert-group", "data-group": g.name },
          h(
            "div",
            { class: "section-head" },
            h("h2", { class: "title", title: g.file }, `${ruleFileName(g.file)} > ${g.name}`),
          ),
          rules.map((r) => ruleDetails(g, r, open.has(`${g.name}/${r.name}`), amStatus, (value) => setOpen([`${g.name}/${r.name}`], value))),
        ),
      );
    }
    if (sections.length) replace(list, sections);
    else replace(list, notice("info", groups.some((g) => rulesOf(g).length) ? "No alerting rule matches these filters." : "No alerting rules."));
  };

  const load = async (): Promise<void> => {
    try {
      const [rules, am, route] = await Promise.all([
        promGet<RulesData>("/api/v1/rules", { type: "alert" }),
        // The built-in Alertmanager may be disabled (--alertmanager.disable): then no silenced state.
        getJSON<AMAlert[]>("/api/v2/alerts").catch(() => [] as AMAlert[]),
        getJSON<Pick<Delivery, "sendsNowhere">>("/api/vigil/v1/delivery").catch(() => ({ sendsNowhere: false })),
      ]);
      groups = rules.groups;
      sendsNowhere = route.sendsNowhere;
      amStatus.clear();
      for (const a of am) amStatus.set(labelsKey(a.labels), a.status);
    } catch (err) {
      replace(list, notice("error", `Could not load alerting rules: ${errorText(err)}`));
      return;
    }
    draw();
  };

  const expandAll = (value: boolean): void => {
    const keys = (groups ?? []).flatMap((g) => rulesOf(g).map((r) => `${g.name}/${r.name}`));
    if (value) setOpen(keys.filter((k) => !open.has(k)), true);
    else setOpen([...open], false);
    draw();
  };

  const toggle = (name: "silenced" | "inhibited", text: string): HTMLElement =>
    h(
      "label",
      { class: "muted-filter" },
      h("input", {
        type: "checkbox",
        name,
        checked: muted[name],
        onchange: (e: Event) => {
          muted[name] = (e.target as HTMLInputElement).checked;
          save();
          draw();
        },
      }),
      ` ${text}`,
    );
  const mutedToggles = h("div", { class: "tabs", role: "group", "aria-label": "Also show muted alerts" }, toggle("silenced", "Silenced"), toggle("inhibited", "Inhibited"));
  const ruleControls = h("span", { class: "rule-controls" });
  const viewTabs = h("div", { class: "tabs view-tabs", role: "tablist", "aria-label": "Alerts view" });
  const drawView = (): void => {
    replace(
      viewTabs,
      ([["rules", "By rule"], ["groups", "Notification groups"]] as const).map(([name, text]) =>
        h(
          "button",
          {
            type: "button",
            role: "tab",
            "aria-selected": String(view === name),
            onclick: () => {
              view = name;
              save();
              drawView();
              if (name === "rules" && groups === null) void load();
              else draw();
            },
          },
          text,
        ),
      ),
    );
    filters.hidden = view === "groups";
    ruleControls.hidden = view === "groups";
    mutedToggles.hidden = view === "rules";
  };
  drawView();

  root.append(
    h("h1", null, "Alerts"),
    delivery,
    viewTabs,
    h(
      "div",
      { class: "toolbar" },
      filters,
      mutedToggles,
      searchBox("Filter by rule name or label", search, (value) => {
        search = value;
        save();
        draw();
      }),
      ruleControls,
      h("button", { type: "button", onclick: () => (view === "groups" ? void loadGroups() : void load()) }, "Refresh"),
    ),
    list,
  );
  ruleControls.append(
    h("button", { type: "button", onclick: () => expandAll(true) }, "Expand all"),
    " ",
    h("button", { type: "button", onclick: () => expandAll(false) }, "Collapse all"),
  );
  list.append(h("p", { class: "muted" }, "Loading…"));
  if (view === "groups") await loadGroups();
  else await load();
}

function ruleDetails(
  group: RuleGroup,
  rule: AlertingRule,
  open: boolean,
  amStatus: Map<string, AMAlert["status"]>,
  onToggle: (open: boolean) => void,
): HTMLDetailsElement {
  const active = rule.alerts.length;
  const details = h(
    "details",
    { class: `rule-row ${rule.state}`, open, "data-rule-name": rule.name, "data-state": rule.state },
    h(
      "summary",
      null,
      h("span", { class: "name" }, rule.name),
      pill(rule.state),
      rule.labels?.severity ? pill(rule.labels.severity, rule.labels.severity) : null,
      h("span", { class: "muted" }, active ? `${active} active` : "no active alerts"),
    ),
    h(
      "div",
      { class: "body" },
      h("pre", { class: "rule" }, ruleText(rule)),
      rule.lastError ? h("p", { class: "error-text" }, rule.lastError) : null,
      active
        ? h(
            "table",
            { class: "data alerts" },
            h(
              "thead",
              null,
              h("tr", null, ["Labels", "State", "Active since", "Value", "Annotations", ""].map((t) => h("th", { scope: "col" }, t))),
            ),
            h("tbody", null, rule.alerts.map((a) => alertRow(a, amStatus.get(labelsKey(a.labels))))),
          )
        : null,
    ),
  );
  details.dataset.group = group.name;
  details.addEventListener("toggle", () => onToggle(details.open));
  return details;
}

function alertRow(alert: ActiveAlert, am: AMAlert["status"] | undefined): HTMLTableRowElement {
  const silenced = am && am.silencedBy.length > 0;
  const inhibited = am && am.inhibitedBy.length > 0;
  const names = Object.keys(alert.annotations ?? {}).sort();
  const logs = containerLogsLink(alert.labels, alert.activeAt);
  return h(
    "tr",
    { class: "alert", "data-state": alert.state },
    h("td", null, labelChips(alert.labels)),
    h(
      "td",
      null,
      pill(alert.state, alert.state.toUpperCase()),
      silenced ? [" ", pill("silenced")] : null,
      inhibited ? [" ", pill("inhibited")] : null,
    ),
    h("td", null, h("span", null, absTime(alert.activeAt)), h("div", { class: "muted" }, timeEl(alert.activeAt))),
    h("td", { class: "num" }, formatValue(alert.value)),
    h(
      "td",
      null,
      names.length
        ? h(
            "dl",
            { class: "annotations" },
            names.map((k) => [h("dt", null, k), h("dd", null, alert.annotations[k])]),
          )
        : null,
    ),
    h(
      "td",
      null,
      h(
        "a",
        { class: "button silence-link", href: silenceLink(alert.labels), title: "Silence this alert in the built-in Alertmanager" },
        silenced ? "Silence again" : "Silence",
      ),
      logs ? [" ", h("a", { class: "button logs-link", href: logs, title: "The container's log lines around this alert" }, "Logs")] : null,
    ),
  );
}
