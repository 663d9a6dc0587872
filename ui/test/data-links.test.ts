// Grafana data links: a series' labels and the dashboard's range fill the URL, each query
// parameter encoded on its own.
import { test } from "node:test";
import assert from "node:assert/strict";
import { dataLinkHref, parseDataLinks } from "../src/dashboards/datalinks";

const SCOPE = {
  labels: { service: "payments", route: "POST /pay?x=1&y" },
  fromMs: 1_714_557_600_000,
  toMs: 1_714_561_200_000,
  interpolate: (text: string) => text.replace("$env", "prod"),
};

test("links come from fieldConfig.defaults.links, a URL required", () => {
  assert.deepEqual(
    parseDataLinks({
      fieldConfig: { defaults: { links: [{ title: "T", url: "/traces" }, { url: "/x", targetBlank: true }, { title: "none" }, "junk"] } },
    } as never),
    [
      { title: "T", url: "/traces", targetBlank: false },
      { title: "/x", url: "/x", targetBlank: true },
    ],
  );
  assert.deepEqual(parseDataLinks({} as never), []);
});

test("labels, the range and variables fill each parameter, encoded again", () => {
  const [link] = parseDataLinks({
    fieldConfig: {
      defaults: {
        links: [{ url: "/traces?var-service=${__field.labels.service}&operation=${__field.labels.route}&from=${__from}&to=$__to&env=$env&missing=${__field.labels.nope}#x" }],
      },
    },
  } as never);
  const url = new URL(dataLinkHref(link, SCOPE), "http://vigil");
  assert.deepEqual(
    [url.pathname, [...url.searchParams], url.hash],
    [
      "/traces",
      [
        ["var-service", "payments"],
        ["operation", "POST /pay?x=1&y"],
        ["from", "1714557600000"],
        ["to", "1714561200000"],
        ["env", "prod"],
        ["missing", ""],
      ],
      "#x",
    ],
  );
});
