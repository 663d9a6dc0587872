// The panel registry: Grafana panel type → the renderer that draws it. Types not listed here
// get the "not supported by vigil" placeholder (dashboard.ts).
import type { PanelRenderer } from "../types";
import { barChartPanel } from "./barchart";
import { barGaugePanel } from "./bargauge";
import { gaugePanel } from "./gauge";
import { heatmapPanel } from "./heatmap";
import { histogramPanel } from "./histogram";
import { logsPanel } from "./logs";
import { pieChartPanel } from "./piechart";
import { stateTimelinePanel } from "./statetimeline";
import { statPanel } from "./stat";
import { tablePanel } from "./table";
import { textPanel } from "./text";
import { graphPanel, timeseriesPanel } from "./timeseries";

export interface PanelKind {
  render: PanelRenderer;
  /** Whether the panel runs its targets; panels without data (text) render straight away. */
  queries: boolean;
}

export const PANELS: Record<string, PanelKind> = {
  timeseries: { render: timeseriesPanel, queries: true },
  graph: { render: graphPanel, queries: true },
  stat: { render: statPanel, queries: true },
  singlestat: { render: statPanel, queries: true },
  gauge: { render: gaugePanel, queries: true },
  bargauge: { render: barGaugePanel, queries: true },
  table: { render: tablePanel, queries: true },
  "table-old": { render: tablePanel, queries: true },
  text: { render: textPanel, queries: false },
  heatmap: { render: heatmapPanel, queries: true },
  "state-timeline": { render: stateTimelinePanel, queries: true },
  barchart: { render: barChartPanel, queries: true },
  piechart: { render: pieChartPanel, queries: true },
  histogram: { render: histogramPanel, queries: true },
  logs: { render: logsPanel, queries: true },
};
