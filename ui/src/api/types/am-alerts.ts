// Alertmanager's /api/v2/alerts.
import type { Labels } from "./labels";

export interface AMAlert {
  labels: Labels;
  startsAt: string;
  status: { state: string; silencedBy: string[]; inhibitedBy: string[] };
}
