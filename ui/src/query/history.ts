// Query history, kept in the browser (localStorage) as Prometheus's UI keeps it: the queries
// run from this browser, most recent first, each once.

export const HISTORY_KEY = "vigil.query.history";
export const HISTORY_MAX = 100;

/** The remembered queries, most recent first; none when storage is unavailable or garbled. */
export function loadHistory(storage: Storage | null = browserStorage()): string[] {
  try {
    const parsed: unknown = JSON.parse(storage?.getItem(HISTORY_KEY) ?? "[]");
    return Array.isArray(parsed) ? parsed.filter((q): q is string => typeof q === "string") : [];
  } catch {
    return [];
  }
}

/** Puts `expr` first (moving it if it was there already) and returns the new history. */
export function remember(expr: string, storage: Storage | null = browserStorage()): string[] {
  const text = expr.trim();
  if (!text) return loadHistory(storage);
  const history = [text, ...loadHistory(storage).filter((q) => q !== text)].slice(0, HISTORY_MAX);
  try {
    storage?.setItem(HISTORY_KEY, JSON.stringify(history));
  } catch {
    // A full or disabled storage only loses the history.
  }
  return history;
}

export function clearHistory(storage: Storage | null = browserStorage()): void {
  try {
    storage?.removeItem(HISTORY_KEY);
  } catch {
    // As above.
  }
}

function browserStorage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}
