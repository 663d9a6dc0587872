// vigil's /api/vigil/v1/dashboards (the list) and /api/vigil/v1/dashboards/{uid}.
import type { DashboardModel } from "../../dashboards/dashboard";

export interface DashboardSummary {
  uid: string;
  title: string;
  tags?: string[];
  builtin?: boolean;
  panels?: number;
  updated?: string;
}

export interface StoredDashboard {
  uid: string;
  builtin?: boolean;
  dashboard: DashboardModel;
}
