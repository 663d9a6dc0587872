// The Rules page: every rule group (file, interval, last evaluation and its duration) and each rule
// as its rule-file text with health, last error, last evaluation and evaluation time, and the
// lint's findings (a metric the rule selects that has no series and no rule records).
import { h, notice, pill, replace } from "./dom";
import { formatDuration } from "./duration";
import { promGet } from "./api";
import type { LintData, LintFinding, Rule, RuleGroup, RulesData } from "./api/types/rules";
import { type Route, setParams } from "./router";
import { errorText, matchesSearch, searchBox, seconds, timeEl, toggle } from "./pages/common";
import { ruleFileName, ruleText } from "./pages/rules-api";

export async function rulesPage(root: HTMLElement, route: Route): Promise<void> {
  const params = new URLSearchParams(route.params);
  let search = params.get("search") ?? "";
  let unhealthy = params.get("health") === "unhealthy";
  let groups: RuleGroup[] | null = null;
  let lint: Lint = new Map();
  const list = h("div");
  const toolbarButtons = h("div", { class: "tabs", role: "group", "aria-label": "Health" });
  root.append(
    h("h1", null, "Rules"),
    h(
      "div",
      { class: "toolbar" },
      toolbarButtons,
      searchBox("Filter by rule name, expression or label", search, (value) => {
        search = value;
        save();
        draw();
      }),
    ),
    list,
  );
  const save = (): void => {
    const p = new URLSearchParams();
    if (unhealthy) p.set("health", "unhealthy");
    if (search) p.set("search", search);
    setParams(p);
  };
  const setHealth = (value: boolean): void => {
    unhealthy = value;
    save();
    drawButtons();
    draw();
  };
  const drawButtons = (): void =>
    replace(toolbarButtons, toggle("All", !unhealthy, () => setHealth(false)), toggle("Unhealthy", unhealthy, () => setHealth(true)));
  drawButtons();

  const draw = (): void => {
    if (groups === null) return;
    const shown = groups
      .map((g) => ({
        group: g,
        rules: g.rules.filter(
          (r) => (!unhealthy || r.health !== "ok") && matchesSearch(search, r.name, r.query, r.labels, g.name),
        ),
      }))
      .filter(({ rules }) => rules.length);
    if (!shown.length) {
      replace(list, notice("info", groups.length ? "No rule matches these filters." : "No rule groups: the configuration has no rule_files."));
      return;
    }
    replace(list, shown.map(({ group, rules }) => groupSection(group, rules, lint)));
  };
  list.append(h("p", { class: "muted" }, "Loading…"));
  const linted = promGet<LintData>("/api/v1/rules/lint").then(
    (data) => lintIndex(data.findings),
    () => null,
  );
  try {
    groups = (await promGet<RulesData>("/api/v1/rules")).groups;
  } catch (err) {
    replace(list, notice("error", `Could not load rules: ${errorText(err)}`));
    return;
  }
  draw();
  const found = await linted;
  if (found === null) return;
  lint = found;
  draw();
}

/** Findings by group file, group name and the rule's index in its group. */
type Lint = Map<string, LintFinding[]>;

const lintKey = (file: string, group: string, index: number): string => JSON.stringify([file, group, index]);

function lintIndex(findings: LintFinding[]): Lint {
  const out: Lint = new Map();
  for (const f of findings) {
    const key = lintKey(f.file, f.group, f.index);
    out.set(key, [...(out.get(key) ?? []), f]);
  }
  return out;
}

function groupSection(group: RuleGroup, rules: Rule[], lint: Lint): HTMLElement {
  const findings = (rule: Rule): LintFinding[] => lint.get(lintKey(group.file, group.name, group.rules.indexOf(rule))) ?? [];
  const dead = group.rules.filter((r) => findings(r).length).length;
  return h(
    "section",
    { class: "section rule-group", "data-group": group.name },
    h(
      "div",
      { class: "section-head" },
      h("h2", { class: "title" }, group.name),
      h(
        "div",
        { class: "meta" },
        h("span", { title: group.file }, "file ", h("b", null, ruleFileName(group.file))),
        h("span", null, "interval ", h("b", null, formatDuration(group.interval * 1000))),
        h("span", null, "last evaluation ", h("b", null, timeEl(group.lastEvaluation))),
        h("span", null, "evaluation time ", h("b", null, seconds(group.evaluationTime))),
        group.limit ? h("span", null, "limit ", h("b", null, String(group.limit))) : null,
        dead ? h("span", { class: "lint-count" }, pill("warning", `${dead} ${dead === 1 ? "rule reads" : "rules read"} missing metrics`)) : null,
      ),
    ),
    h(
      "table",
      { class: "data" },
      h(
        "thead",
        null,
        h("tr", null, ["Rule", "State", "Error", "Last evaluation", "Evaluation time"].map((t) => h("th", { scope: "col" }, t))),
      ),
      h("tbody", null, rules.map((rule) => ruleRow(rule, findings(rule)))),
    ),
  );
}

function ruleRow(rule: Rule, findings: LintFinding[]): HTMLTableRowElement {
  return h(
    "tr",
    { class: "rule", "data-rule-name": rule.name, "data-rule-type": rule.type },
    h("td", null, h("pre", { class: "rule" }, ruleText(rule))),
    h("td", null, pill(rule.health === "ok" ? "ok" : rule.health === "err" ? "err" : "unknown", rule.health.toUpperCase())),
    h(
      "td",
      null,
      rule.lastError ? h("span", { class: "error-text" }, rule.lastError) : null,
      findings.map((f) =>
        h(
          "div",
          { class: "lint", "data-metric": f.metric },
          "metric ",
          h("code", null, f.metric),
          " has no series, and no rule records it",
        ),
      ),
    ),
    h("td", null, timeEl(rule.lastEvaluation)),
    h("td", { class: "num" }, seconds(rule.evaluationTime)),
  );
}
