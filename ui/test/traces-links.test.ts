// Where a trace leads: the Logs page over its services and time with its id as a line filter,
// and a service's dashboard.
import { test } from "node:test";
import assert from "node:assert/strict";
import { windowOf } from "../src/logs_range";
import { logsHref, serviceDashboardHref, traceIdOf, traceLogQuery } from "../src/traces_links";

const ID = "0af7651916cd43dd8448eb211c80319c";

test("one service: an equality matcher; several: an escaped regex; the id as a line filter", () => {
  assert.equal(traceLogQuery(ID, ["shop"]), `{service_name="shop"} |= "${ID}"`);
  assert.equal(traceLogQuery(ID, ["shop", "api.v2"]), `{service_name=~"shop|api\\\\.v2"} |= "${ID}"`);
  assert.equal(traceLogQuery(ID, []), `{service_name=~".+"} |= "${ID}"`);
});

test("the Logs page link covers the trace's time a minute either side, and the Logs page reads it", () => {
  const href = new URL(logsHref(ID, ["shop"], 1_000_000, 1_000_250.5), "http://x");
  assert.equal(href.pathname, "/logs");
  assert.equal(href.searchParams.get("query"), `{service_name="shop"} |= "${ID}"`);
  assert.deepEqual(windowOf(href.searchParams), [940_000, 1_060_251]);
  assert.equal(windowOf(new URLSearchParams("from=5&to=1")), null);
  assert.equal(windowOf(new URLSearchParams("range=1h")), null);
});

test("a service's dashboard link sets its variable", () => {
  assert.equal(serviceDashboardHref("my shop"), "/d/vigil-services?var-service=my+shop");
});

test("a log line's trace: structured metadata, parsed fields, labels, then the line", () => {
  const row = (line: string, meta = {}, labels = {}) => ({ ns: "1", line, labels, meta });
  assert.deepEqual(
    [
      row("x", { structuredMetadata: { trace_id: ID.toUpperCase() } }),
      row("x", { parsed: { traceId: "4bf92f3577b34da6" } }),
      row("x", {}, { traceID: ID }),
      row(`payment refused trace_id=${ID} span_id=00f067aa0ba902b7`),
      row(`{"msg": "x", "traceId": "${ID}"}`),
      row("trace_id=not-hex"),
      row("x", { structuredMetadata: { trace_id: "1234" } }),
    ].map(traceIdOf),
    [ID, "4bf92f3577b34da6", ID, ID, ID, null, null],
  );
});
