// Grafana's units (bytes, percent, s, bps, short, …) as value formatters (being written).
import { formatShort } from "../chart";

/** A formatter for Grafana unit id `unit` with `decimals` (null: automatic). */
export function unitFormatter(unit: string | undefined, decimals?: number | null): (v: number) => string {
  return (v: number) => formatShort(v, decimals ?? undefined) + (unit && unit !== "short" && unit !== "none" ? ` ${unit}` : "");
}
