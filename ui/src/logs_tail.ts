// Live tail on the Logs page: Loki's /loki/api/v1/tail WebSocket, its lines put on top as they
// come, at most MAX_ROWS kept; paused, they wait (as many) until resumed.
import { h, notice, replace } from "./dom";
import { logRow } from "./logs_rows";
import { type LogRow, type LogStream, lineCount, mergeStreams } from "./logs_streams";

export const MAX_ROWS = 1000;

export interface Tail {
  /** Holds new lines back (true) or shows them and those held (false). */
  setPaused(paused: boolean): void;
  stop(): void;
}

export function tailURL(query: string, startNs: bigint, base: Location = location): string {
  const scheme = base.protocol === "https:" ? "wss:" : "ws:";
  const params = new URLSearchParams({ query, start: String(startNs), limit: "100" });
  return `${scheme}//${base.host}/loki/api/v1/tail?${params}`;
}

/** Tails `query` from now into `el`, `literals` marked in the lines. */
export function startTail(el: HTMLElement, query: string, literals: readonly string[]): Tail {
  const status = h("p", { class: "muted logs-count", role: "status" }, "Live: waiting for lines…");
  const rows = h("div", { class: "log-rows" });
  replace(el, status, rows);
  el.dataset.state = "live";
  let held: LogRow[] = [];
  let paused = false;
  let shown = 0;
  let stopped = false;

  function show(batch: LogRow[]): void {
    rows.prepend(...batch.map((row) => logRow(row, literals)));
    while (rows.childElementCount > MAX_ROWS) rows.lastElementChild?.remove();
    shown = rows.childElementCount;
  }

  function describe(): void {
    status.textContent = paused
      ? `Paused: ${lineCount(shown)} shown, ${held.length} new waiting`
      : `Live: ${lineCount(shown)}${shown === MAX_ROWS ? ` (the newest ${MAX_ROWS})` : ""}`;
  }

  const socket = new WebSocket(tailURL(query, BigInt(Date.now()) * 1_000_000n));
  socket.addEventListener("message", (event) => {
    const body = JSON.parse(String(event.data)) as { streams?: LogStream[] };
    const batch = mergeStreams(body.streams ?? [], MAX_ROWS);
    if (paused) held = [...batch, ...held].slice(0, MAX_ROWS);
    else show(batch);
    describe();
  });
  socket.addEventListener("close", (event) => {
    if (stopped) return;
    el.dataset.state = "error";
    el.prepend(notice("error", `Live tail ended${event.reason ? `: ${event.reason}` : " (the server closed it or refused the query)"}`));
  });

  return {
    setPaused(value: boolean): void {
      paused = value;
      if (!paused && held.length) {
        show(held);
        held = [];
      }
      describe();
    },
    stop(): void {
      stopped = true;
      socket.close();
    },
  };
}
