// Resolving a panel's fieldConfig (defaults + overrides) for one series (being written).
import type { Frame, GrafanaPanel, Threshold } from "./types";
import { unitFormatter } from "./units";

/** What a panel needs to draw one series: its display name, formatter, range and colours. */
export interface FieldDisplay {
  name: string;
  unit: string;
  decimals: number | null;
  min: number | null;
  max: number | null;
  format: (v: number) => string;
  /** A fixed colour when the field config names one, else null (the palette decides). */
  color: string | null;
  thresholds: Threshold[];
  /** Grafana's custom.* options for this field (stacking, fillOpacity, lineWidth, transform…). */
  custom: Record<string, unknown>;
  hidden: boolean;
}

export function resolveField(panel: GrafanaPanel, frame: Frame): FieldDisplay {
  const d = panel.fieldConfig?.defaults ?? {};
  const unit = d.unit ?? "short";
  const decimals = d.decimals ?? null;
  return {
    name: frame.name,
    unit,
    decimals,
    min: d.min ?? null,
    max: d.max ?? null,
    format: unitFormatter(unit, decimals),
    color: d.color?.fixedColor ?? null,
    thresholds: d.thresholds?.steps ?? [],
    custom: d.custom ?? {},
    hidden: false,
  };
}

/** The colour of `value` by threshold steps (the first step's value is -Infinity). */
export function thresholdColor(steps: Threshold[], value: number): string {
  let color = steps[0]?.color ?? "green";
  for (const step of steps) if (step.value !== null && value >= step.value) color = step.color;
  return color;
}
