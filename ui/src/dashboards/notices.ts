// What a dashboard says above its panels when they cannot show anything yet or here: the
// dashboard's own notices (vigil's built-in ones carry `vigilNotices`, each a PromQL condition
// and a text, e.g. "No Docker on this host"), and, until every target has been scraped once,
// when the first scrape will have happened (from the targets' lastScrape and scrapeInterval).
import { promGet, queryInstant } from "../api";
import type { TargetsData } from "../api/types/targets";
import { parseDuration } from "./interpolate";

/** A notice shown for each series `expr` returns; `{{label}}` in the text takes its value. */
export interface Notice {
  expr: string;
  text: string;
}

export function parseNotices(raw: unknown): Notice[] {
  if (!Array.isArray(raw)) return [];
  return raw.flatMap((n: unknown) => {
    const o = n !== null && typeof n === "object" ? (n as Record<string, unknown>) : {};
    return typeof o.expr === "string" && typeof o.text === "string" ? [{ expr: o.expr, text: o.text }] : [];
  });
}

/** The texts of the notices whose condition holds at `at` (Unix ms); a failing query shows nothing. */
export async function noticeTexts(notices: Notice[], at: number): Promise<string[]> {
  const texts = await Promise.all(
    notices.map(async (n) => {
      try {
        const data = await queryInstant(n.expr, at / 1000);
        if (data.resultType !== "vector") return [];
        return data.result.map((s) => n.text.replace(/\{\{\s*(\w+)\s*\}\}/g, (_m, name: string) => s.metric[name] ?? ""));
      } catch {
        return [];
      }
    }),
  );
  return [...new Set(texts.flat())];
}

const NEVER = /^0001-01-01/;

/**
 * When every target not yet scraped will have been (Unix ms): a scrape loop's first scrape comes
 * within one interval of the server's start. Null when every target has been scraped.
 */
export async function firstScrapeBy(): Promise<number | null> {
  const targets = await promGet<TargetsData>("/api/v1/targets", { state: "active" });
  const waiting = targets.activeTargets.filter((t) => NEVER.test(t.lastScrape));
  if (!waiting.length) return null;
  const runtime = await promGet<{ startTime: string }>("/api/v1/status/runtimeinfo");
  const interval = Math.max(...waiting.map((t) => parseDuration(t.scrapeInterval ?? "") ?? 60_000));
  return Date.parse(runtime.startTime) + interval;
}
