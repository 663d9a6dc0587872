// The shapes of /api/v1/rules, shared by the Rules and Alerts pages, and a rule as YAML-like text.
import { type Labels, promDuration } from "./common";

export interface ActiveAlert {
  labels: Labels;
  annotations: Labels;
  state: "pending" | "firing" | "inactive";
  activeAt: string;
  value: string;
  keepFiringSince?: string;
}

interface RuleBase {
  name: string;
  query: string;
  labels?: Labels;
  health: "ok" | "err" | "unknown";
  lastError?: string;
  evaluationTime: number;
  lastEvaluation: string;
}

export interface AlertingRule extends RuleBase {
  type: "alerting";
  state: "inactive" | "pending" | "firing";
  duration: number;
  keepFiringFor?: number;
  annotations: Labels;
  alerts: ActiveAlert[];
}

export interface RecordingRule extends RuleBase {
  type: "recording";
}

export type Rule = AlertingRule | RecordingRule;

export interface RuleGroup {
  name: string;
  file: string;
  interval: number;
  limit?: number;
  evaluationTime: number;
  lastEvaluation: string;
  rules: Rule[];
}

export interface RulesData {
  groups: RuleGroup[];
}

/** A YAML scalar: plain when that reads back the same, else double-quoted; multi-line as `|`. */
function scalar(value: string, indent: string): string {
  if (value.includes("\n")) {
    const body = value.replace(/\n$/, "").split("\n").map((line) => (line ? indent + "  " + line : ""));
    return `|${value.endsWith("\n") ? "" : "-"}\n${body.join("\n")}`;
  }
  if (value === "" || /^[\s\-?:,[\]{}#&*!|>'"%@`]|: | #|\s$|^(true|false|null|yes|no|on|off|~)$/i.test(value) || /^[\d.+-]/.test(value)) {
    return JSON.stringify(value);
  }
  return value;
}

function mapping(key: string, map: Labels | undefined): string[] {
  const names = Object.keys(map ?? {}).sort();
  if (!map || !names.length) return [];
  return [`${key}:`, ...names.map((k) => `  ${k}: ${scalar(map[k], "  ")}`)];
}

/** The rule as it reads in a rule file (name, expr, for, keep_firing_for, labels, annotations). */
export function ruleText(rule: Rule): string {
  const lines: string[] = [];
  if (rule.type === "alerting") {
    lines.push(`alert: ${scalar(rule.name, "")}`);
    lines.push(`expr: ${scalar(rule.query, "")}`);
    if (rule.duration > 0) lines.push(`for: ${promDuration(rule.duration * 1000)}`);
    if (rule.keepFiringFor) lines.push(`keep_firing_for: ${promDuration(rule.keepFiringFor * 1000)}`);
    lines.push(...mapping("labels", rule.labels), ...mapping("annotations", rule.annotations));
  } else {
    lines.push(`record: ${scalar(rule.name, "")}`);
    lines.push(`expr: ${scalar(rule.query, "")}`);
    lines.push(...mapping("labels", rule.labels));
  }
  return lines.join("\n");
}
