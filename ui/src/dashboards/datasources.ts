// The datasources a dashboard names, as vigil serves them: Prometheus's API, Loki's, or not at all.

/** Which of vigil's query APIs a datasource is: Loki's (`/loki/api/v1/*`, LogQL) for a Loki
 * datasource, else Prometheus's. */
export type QueryAPI = "prometheus" | "loki";

export function datasourceAPI(ds: unknown): QueryAPI {
  let type = "";
  let uid = "";
  if (typeof ds === "string") uid = ds;
  else if (typeof ds === "object" && ds !== null) {
    const o = ds as Record<string, unknown>;
    type = typeof o.type === "string" ? o.type : "";
    uid = typeof o.uid === "string" ? o.uid : "";
  }
  return type.toLowerCase() === "loki" || (!type && /loki/i.test(uid)) ? "loki" : "prometheus";
}

/** Datasources vigil answers: Prometheus-like ones, Loki, mixed/default, and dashboard inputs. */
export function datasourceProblem(ds: unknown): string | null {
  if (ds === null || ds === undefined || ds === "") return null;
  let type = "";
  let uid = "";
  if (typeof ds === "string") uid = ds;
  else if (typeof ds === "object") {
    const o = ds as Record<string, unknown>;
    type = typeof o.type === "string" ? o.type : "";
    uid = typeof o.uid === "string" ? o.uid : "";
  }
  const t = type.toLowerCase();
  const u = uid.toLowerCase();
  if (u === "-- grafana --" || u === "grafana" || t === "grafana" || t === "datasource" && u === "grafana") return "Grafana's built-in datasource";
  if (u === "-- dashboard --" || t === "dashboard") return "the Dashboard datasource";
  if (u === "-- mixed --" || t === "mixed") return null;
  if (t && !/prometheus|vigil|loki|^datasource$/.test(t)) return `a ${type} datasource`;
  if (!t && /elastic|influx|graphite|mysql|postgres|tempo|jaeger/.test(u)) return `datasource ${uid}`;
  return null;
}
