// Alertmanager's /api/v2/status.

export interface AMStatus {
  cluster?: { status: string; peers?: unknown[] };
  uptime?: string;
  versionInfo?: Record<string, string>;
}
