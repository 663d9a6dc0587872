// /api/v1/rules (its alerting rules' alerts are also /api/v1/alerts' entries).
import type { Labels } from "./labels";

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

// vigil's /api/v1/rules/lint: rules selecting a metric that has no series and no rule records.
export interface LintFinding {
  file: string;
  group: string;
  index: number;
  rule: string;
  type: "alerting" | "recording";
  line: number;
  metric: string;
}

export interface LintData {
  findings: LintFinding[];
}
