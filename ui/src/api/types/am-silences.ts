// Alertmanager's /api/v2/silences and /api/v2/silence/{id}.
import type { APIMatcher } from "./am-matcher";

export type SilenceState = "active" | "pending" | "expired";

export interface Silence {
  id: string;
  status: { state: SilenceState };
  matchers: APIMatcher[];
  startsAt: string;
  endsAt: string;
  updatedAt: string;
  createdBy: string;
  comment: string;
}
