// The UI's only way to the server: the Prometheus, Alertmanager and vigil HTTP APIs.
// Every state-changing request carries `X-Vigil-UI: 1` and same-origin credentials; the server
// refuses state-changing requests from other origins (CSRF).

import type { QueryData } from "./types/query";

export class APIError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly errorType: string = "",
  ) {
    super(message);
  }
}

/** Counts requests and bytes, so the benchmark and tests can read them from `window.vigilStats`. */
export const stats = { requests: 0, bytes: 0 };
(window as unknown as { vigilStats: typeof stats }).vigilStats = stats;

async function send(method: string, path: string, body?: BodyInit, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  stats.requests++;
  const response = await fetch(path, {
    method,
    body,
    credentials: "same-origin",
    headers: method === "GET" ? headers : { "X-Vigil-UI": "1", ...headers },
    signal,
  });
  return response;
}

async function decode<T>(response: Response): Promise<T> {
  const text = await response.text();
  stats.bytes += text.length;
  let payload: unknown;
  try {
    payload = text ? JSON.parse(text) : null;
  } catch {
    throw new APIError(`${response.status} ${response.statusText}: ${text.slice(0, 200)}`, response.status);
  }
  if (!response.ok) {
    const p = payload as { error?: string; errorType?: string; message?: string } | string | null;
    const message = typeof p === "string" ? p : p?.error ?? p?.message ?? response.statusText;
    throw new APIError(message, response.status, typeof p === "object" && p ? p.errorType ?? "" : "");
  }
  return payload as T;
}

/** GET a Prometheus-style API (`{"status":"success","data":...}`) and return `data`. */
export async function promGet<T>(path: string, params: Record<string, string | string[]> = {}): Promise<T> {
  const response = await send("GET", withParams(path, params));
  const payload = await decode<{ status: string; data: T; error?: string; warnings?: string[] }>(response);
  if (payload.status !== "success") throw new APIError(payload.error ?? "request failed", response.status);
  return payload.data;
}

/** POST form parameters to a Prometheus-style API; used for long queries. */
export async function promPost<T>(path: string, params: Record<string, string>, signal?: AbortSignal): Promise<T> {
  const body = new URLSearchParams(params);
  const response = await send("POST", path, body, {}, signal);
  const payload = await decode<{ status: string; data: T; error?: string }>(response);
  if (payload.status !== "success") throw new APIError(payload.error ?? "request failed", response.status);
  return payload.data;
}

/** Plain JSON APIs (Alertmanager v2, vigil's own). */
export async function getJSON<T>(
  path: string,
  params: Record<string, string | string[]> = {},
  headers: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<T> {
  return decode<T>(await send("GET", withParams(path, params), undefined, headers, signal));
}

export async function sendJSON<T>(method: "POST" | "PUT" | "DELETE", path: string, body?: unknown): Promise<T> {
  const init = body === undefined ? undefined : JSON.stringify(body);
  return decode<T>(await send(method, path, init, { "Content-Type": "application/json" }));
}

export function withParams(path: string, params: Record<string, string | string[]>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    for (const v of Array.isArray(value) ? value : [value]) search.append(key, v);
  }
  const q = search.toString();
  return q ? `${path}${path.includes("?") ? "&" : "?"}${q}` : path;
}

export function queryInstant(query: string, time?: number, signal?: AbortSignal): Promise<QueryData> {
  const params: Record<string, string> = { query };
  if (time !== undefined) params.time = String(time);
  return promPost<QueryData>("/api/v1/query", params, signal);
}

export function queryRange(query: string, start: number, end: number, step: number, signal?: AbortSignal): Promise<QueryData> {
  return promPost<QueryData>(
    "/api/v1/query_range",
    {
      query,
      start: String(start),
      end: String(end),
      step: String(step),
    },
    signal,
  );
}
