// Prometheus durations, the one module that reads and writes them: units y, w, d, h, m, s, ms,
// in that order and each at most once (`1h30m`; `1m1h` and `1m1m` are refused, as Prometheus
// refuses them), whole numbers only.

const UNITS: [unit: string, ms: number][] = [
  ["y", 365 * 86_400_000],
  ["w", 7 * 86_400_000],
  ["d", 86_400_000],
  ["h", 3_600_000],
  ["m", 60_000],
  ["s", 1000],
  ["ms", 1],
];

const DURATION = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;

/** `1h30m` → 5_400_000 (milliseconds); null when the text is not a duration or is zero long. */
export function parseDuration(text: string): number | null {
  const m = DURATION.exec(text.trim());
  if (!m) return null;
  let total = 0;
  for (let i = 0; i < UNITS.length; i++) if (m[i + 1]) total += parseInt(m[i + 1], 10) * UNITS[i][1];
  return total > 0 ? total : null;
}

/** Prometheus's spelling of a number of milliseconds (`1h30m`, `0s`), rounded to a millisecond. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return "0s";
  let rest = Math.round(ms);
  let out = "";
  for (const [unit, size] of UNITS) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return out;
}
