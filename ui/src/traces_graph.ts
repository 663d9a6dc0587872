// The service map's graph: edges from the service-graph series (requests and failures per
// client → server pair), and a layered layout — callers left of what they call, each layer's
// nodes ordered by where their callers sit so edges cross less.

export interface Sample {
  metric: Record<string, string>;
  value?: [number, string];
}

export interface Edge {
  client: string;
  server: string;
  /** Requests per second. */
  rate: number;
  /** Failed requests per second. */
  failed: number;
}

export interface Node {
  name: string;
  layer: number;
  /** Position inside its layer, from the top. */
  row: number;
  /** Requests per second it serves, and failed ones. */
  rate: number;
  failed: number;
}

export interface Graph {
  nodes: Node[];
  edges: Edge[];
}

const key = (client: string, server: string): string => JSON.stringify([client, server]);

/** Edges of `requests` (with the failures of `failed` for the same pair), busiest first. */
export function edgesOf(requests: Sample[], failed: Sample[]): Edge[] {
  const failures = new Map<string, number>();
  for (const s of failed) failures.set(key(s.metric.client ?? "", s.metric.server ?? ""), Number(s.value?.[1]) || 0);
  return requests
    .filter((s) => s.metric.client !== undefined && s.metric.server !== undefined)
    .map((s) => ({
      client: s.metric.client,
      server: s.metric.server,
      rate: Number(s.value?.[1]) || 0,
      failed: failures.get(key(s.metric.client, s.metric.server)) ?? 0,
    }))
    .sort((a, b) => b.rate - a.rate || a.client.localeCompare(b.client) || a.server.localeCompare(b.server));
}

/** Layers by longest path from the services nobody calls; an edge closing a cycle is ignored
 * for layering (it is still drawn). */
export function layout(edges: Edge[]): Graph {
  const names = [...new Set(edges.flatMap((e) => [e.client, e.server]))].sort();
  const out = new Map<string, string[]>(names.map((n) => [n, []]));
  const incoming = new Map<string, number>(names.map((n) => [n, 0]));
  for (const e of edges) {
    if (e.client === e.server) continue;
    out.get(e.client)?.push(e.server);
    incoming.set(e.server, (incoming.get(e.server) ?? 0) + 1);
  }
  // Depth-first from the sources (then from anything left, for pure cycles): a DAG of forward edges.
  const state = new Map<string, "open" | "done">();
  const forward = new Map<string, string[]>(names.map((n) => [n, []]));
  const order: string[] = [];
  const visit = (start: string): void => {
    const stack: [string, number][] = [[start, 0]];
    state.set(start, "open");
    while (stack.length) {
      const top = stack[stack.length - 1];
      const next = out.get(top[0])?.[top[1]++];
      if (next === undefined) {
        state.set(top[0], "done");
        order.push(top[0]);
        stack.pop();
      } else if (!state.has(next)) {
        forward.get(top[0])?.push(next);
        state.set(next, "open");
        stack.push([next, 0]);
      } else if (state.get(next) === "done") forward.get(top[0])?.push(next);
    }
  };
  for (const n of names) if (!incoming.get(n) && !state.has(n)) visit(n);
  for (const n of names) if (!state.has(n)) visit(n);

  const layer = new Map<string, number>(names.map((n) => [n, 0]));
  for (const n of order.reverse()) for (const m of forward.get(n) ?? []) layer.set(m, Math.max(layer.get(m) ?? 0, (layer.get(n) ?? 0) + 1));

  const rows = new Map<string, number>();
  const depth = Math.max(0, ...layer.values());
  for (let l = 0; l <= depth; l++) {
    const here = names.filter((n) => layer.get(n) === l);
    const weight = (n: string): number => {
      const callers = edges.filter((e) => e.server === n && rows.has(e.client)).map((e) => rows.get(e.client) ?? 0);
      return callers.length ? callers.reduce((a, b) => a + b, 0) / callers.length : Infinity;
    };
    here.sort((a, b) => weight(a) - weight(b) || a.localeCompare(b)).forEach((n, i) => rows.set(n, i));
  }
  const nodes = names.map((name) => {
    const served = edges.filter((e) => e.server === name);
    return {
      name,
      layer: layer.get(name) ?? 0,
      row: rows.get(name) ?? 0,
      rate: served.reduce((a, e) => a + e.rate, 0),
      failed: served.reduce((a, e) => a + e.failed, 0),
    };
  });
  return { nodes, edges };
}

/** "12.3/s", "0.05/s". */
export function formatRate(perSecond: number): string {
  if (perSecond === 0) return "0/s";
  if (perSecond >= 100) return `${Math.round(perSecond)}/s`;
  return `${Number(perSecond.toPrecision(3))}/s`;
}

/** Failed / requests as a percentage, "" when nothing was requested. */
export function formatErrorRate(rate: number, failed: number): string {
  if (rate <= 0) return "";
  const pct = (failed / rate) * 100;
  return `${pct === 0 ? "0" : pct < 0.1 ? "<0.1" : Number(pct.toPrecision(3))}%`;
}
