// Links from an alert to what explains it: the Logs page on the container it is about.
import type { Labels } from "../api/types/labels";

/** The container an alert is about: its `container` label, or the `name` label the
 * container alerts (ContainerOomKilled, ContainerExitedNonZero, ...) carry. */
function alertContainer(labels: Labels): string | null {
  if (labels.container) return labels.container;
  return labels.alertname?.startsWith("Container") && labels.name ? labels.name : null;
}

/** The Logs page on the alert's container, from 15 minutes before the alert became active
 * to now — a dying container's last lines are there. */
export function containerLogsLink(labels: Labels, activeAt: string, nowMs: number = Date.now()): string | null {
  const container = alertContainer(labels);
  if (!container) return null;
  const from = Date.parse(activeAt) - 15 * 60 * 1000;
  const p = new URLSearchParams({ query: `{container=${JSON.stringify(container)}}`, from: String(from), to: String(nowMs) });
  return `/logs?${p.toString()}`;
}
