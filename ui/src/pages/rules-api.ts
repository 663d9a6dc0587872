// A rule of /api/v1/rules as YAML-like text, shared by the Rules and Alerts pages.
import type { Labels } from "../api/types/labels";
import type { Rule } from "../api/types/rules";
import { formatDuration } from "../duration";

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
    if (rule.duration > 0) lines.push(`for: ${formatDuration(rule.duration * 1000)}`);
    if (rule.keepFiringFor) lines.push(`keep_firing_for: ${formatDuration(rule.keepFiringFor * 1000)}`);
    lines.push(...mapping("labels", rule.labels), ...mapping("annotations", rule.annotations));
  } else {
    lines.push(`record: ${scalar(rule.name, "")}`);
    lines.push(`expr: ${scalar(rule.query, "")}`);
    lines.push(...mapping("labels", rule.labels));
  }
  return lines.join("\n");
}

/** A sample value as Prometheus's UI prints it (the shortest decimal), not Go's `%e`. */
export function formatValue(value: string): string {
  const text = value.trim();
  if (/^[+-]?inf(inity)?$/i.test(text)) return text.startsWith("-") ? "-Inf" : "+Inf";
  const v = Number(text);
  return text === "" ? "" : Number.isNaN(v) ? "NaN" : String(v);
}

/** A rule file as people know it: vigil's own packs as "built-in: host" (log rules "built-in: logs/containers"), others as written. */
export function ruleFileName(file: string): string {
  const m = /[\\/]vigil[\\/]rules[\\/]default[\\/]((?:logs[\\/])?[^\\/]+)\.ya?ml$/.exec(file);
  return m ? `built-in: ${m[1].replace("\\", "/")}` : file;
}
