// Grafana dashboard links: variables replaced per query parameter, time and variables kept.
import { test } from "node:test";
import assert from "node:assert/strict";
import { linkHref, parseLinks } from "../src/dashboards/links";
import { single, type Scope } from "../src/dashboards/interpolate";

const RANGE = { raw: { from: "now-1h", to: "now" }, from: 1_714_557_600_000, to: 1_714_561_200_000 };
const SCOPE: Scope = {
  container: { values: ["shop", "db.v1"], multi: true },
  instance: single("vm1:9100"),
};

test("only links of type link with a URL are kept, with Grafana's defaults", () => {
  assert.deepEqual(
    parseLinks([
      { type: "dashboards", tags: ["x"] },
      { type: "link", title: "", url: "/logs" },
      { title: "Docs", url: "https://example.org/", keepTime: true, targetBlank: true, tooltip: "t" },
      "junk",
      { type: "link", url: "" },
    ]),
    [
      { title: "/logs", url: "/logs", tooltip: "", keepTime: false, includeVars: false, targetBlank: false },
      { title: "Docs", url: "https://example.org/", tooltip: "t", keepTime: true, includeVars: false, targetBlank: true },
    ],
  );
});

test("a query parameter's variables are replaced as a query sees them, then encoded", () => {
  const [link] = parseLinks([{ url: '/logs?query={container=~"$container"}&x=a+b', keepTime: true }]);
  const href = linkHref(link, SCOPE, RANGE, new URLSearchParams());
  const url = new URL(href, "http://vigil");
  assert.deepEqual(
    [url.pathname, url.searchParams.get("query"), url.searchParams.get("x"), url.searchParams.get("from"), url.searchParams.get("to")],
    ["/logs", '{container=~"(shop|db\\\\.v1)"}', "a+b", "1714557600000", "1714561200000"],
  );
});

test("includeVars appends the dashboard's variables; the fragment stays", () => {
  const [link] = parseLinks([{ url: "/d/x?orgId=1#top", includeVars: true }]);
  const vars = new URLSearchParams([["var-instance", "vm1:9100"], ["var-container", "shop"]]);
  assert.equal(linkHref(link, SCOPE, RANGE, vars), "/d/x?orgId=1&var-instance=vm1%3A9100&var-container=shop#top");
});
