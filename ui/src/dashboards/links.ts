// Grafana's dashboard links (the dashboard JSON's `links`, type "link"): shown beside the
// title, their URL's variables replaced as a query would see them, with the time range
// (`keepTime`, as Unix ms) and the variables (`includeVars`, as var-NAME) carried along.
// Links of type "dashboards" (by tag) are not shown: vigil's dashboards have no tags.
import { type Scope, interpolate } from "./interpolate";
import type { TimeRange } from "./time";

export interface DashboardLink {
  title: string;
  url: string;
  tooltip: string;
  keepTime: boolean;
  includeVars: boolean;
  targetBlank: boolean;
}

export function parseLinks(raw: unknown): DashboardLink[] {
  if (!Array.isArray(raw)) return [];
  const out: DashboardLink[] = [];
  for (const item of raw) {
    if (typeof item !== "object" || item === null) continue;
    const l = item as Record<string, unknown>;
    if ((l.type ?? "link") !== "link" || typeof l.url !== "string" || !l.url) continue;
    out.push({
      title: typeof l.title === "string" && l.title ? l.title : l.url,
      url: l.url,
      tooltip: typeof l.tooltip === "string" ? l.tooltip : "",
      keepTime: l.keepTime === true,
      includeVars: l.includeVars === true,
      targetBlank: l.targetBlank === true,
    });
  }
  return out;
}

function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * The link's address now. Each query parameter of the URL as written is interpolated on its
 * own (query formatting: a multi-value variable becomes a regex) and encoded again, so a
 * value holding `&`, `+` or `#` cannot break the URL apart.
 */
export function linkHref(link: DashboardLink, scope: Scope, range: TimeRange, vars: URLSearchParams): string {
  const [beforeHash, hash = ""] = splitOnce(link.url, "#");
  const [path, query = ""] = splitOnce(beforeHash, "?");
  const params = new URLSearchParams();
  for (const part of query.split("&")) {
    if (!part) continue;
    const [key, value = ""] = splitOnce(part, "=");
    params.append(decoded(key), interpolate(decoded(value), scope, "query"));
  }
  if (link.keepTime) {
    params.set("from", String(range.from));
    params.set("to", String(range.to));
  }
  if (link.includeVars) for (const [k, v] of vars) params.append(k, v);
  const search = params.toString();
  return `${interpolate(path, scope, "text")}${search ? `?${search}` : ""}${hash ? `#${hash}` : ""}`;
}

function splitOnce(text: string, sep: string): [string, string?] {
  const at = text.indexOf(sep);
  return at < 0 ? [text] : [text.slice(0, at), text.slice(at + sep.length)];
}
