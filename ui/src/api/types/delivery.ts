// /api/vigil/v1/delivery: where the built-in Alertmanager sends alerts.

/** One node of the route tree, its options as in force (inherited ones filled in). */
export interface RouteNode {
  receiver: string;
  /** ["..."] when the route groups by every label. */
  groupBy: string[];
  groupWait: string;
  groupInterval: string;
  repeatInterval: string;
  matchers: string[];
  continue: boolean;
  muteTimeIntervals: string[];
  activeTimeIntervals: string[];
  routes: RouteNode[];
}

export interface Delivery {
  /** Every receiver the route can end at has no integration: alerts are shown, never sent. */
  sendsNowhere: boolean;
  route: RouteNode;
  /** Each receiver and its integrations' kinds ("slack", "webhook", …). */
  receivers: { name: string; integrations: string[] }[];
}
