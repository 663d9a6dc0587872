// The search fields as one TraceQL spanset filter (typed literals, Jaeger-style tags) and as
// Tempo's legacy search parameters when they can say it, and Tempo's search answer as rows.
import { test } from "node:test";
import assert from "node:assert/strict";
import { type SearchFields, buildTraceQL, traceRows } from "../src/traces_traceql";

const EMPTY: SearchFields = { service: "", operation: "", tags: "", minDuration: "", maxDuration: "" };

type Legacy = Record<string, string> | null;
const CASES: [name: string, fields: Partial<SearchFields>, query: string, legacy: Legacy, problems: number][] = [
  ["nothing: every trace", {}, "{}", {}, 0],
  ["service and operation", { service: "shop", operation: "GET /cart" }, '{resource.service.name="shop" && name="GET /cart"}', { tags: 'service.name=shop name="GET /cart"' }, 0],
  ["durations are the trace's", { minDuration: "100ms", maxDuration: "1.5s" }, "{traceDuration>=100ms && traceDuration<=1.5s}", { minDuration: "100ms", maxDuration: "1.5s" }, 0],
  [
    "tags typed: numbers, booleans, strings, quoted",
    { tags: 'http.response.status_code=500 cache.hit=false db.system=postgresql msg="a b"' },
    '{.http.response.status_code=500 && .cache.hit=false && .db.system="postgresql" && .msg="a b"}',
    { tags: 'http.response.status_code=500 cache.hit=false db.system=postgresql msg="a b"' },
    0,
  ],
  ["intrinsics in legacy spelling", { tags: "status=error kind=server" }, "{status=error && kind=server}", { tags: "status=error span.kind=server" }, 0],
  ["scoped keys and other operators only in TraceQL", { tags: "span.x!=1 resource.k8s.ns=~prod.* duration>2s" }, '{span.x!=1 && resource.k8s.ns=~"prod.*" && duration>2s}', null, 0],
  ["a scoped equality only in TraceQL", { service: "s", tags: "span.x=1" }, '{resource.service.name="s" && span.x=1}', null, 0],
  ["Jaeger's error=true is status=error", { tags: "error=true" }, "{status=error}", { tags: "error=true" }, 0],
  ["quotes inside a service name are escaped", { service: 'a"b' }, '{resource.service.name="a\\"b"}', { tags: 'service.name="a\\"b"' }, 0],
  ["a bad duration is left out and named", { service: "s", minDuration: "fast" }, '{resource.service.name="s"}', { tags: "service.name=s" }, 1],
  ["an unreadable tag is left out and named", { tags: "a=1 oops" }, "{.a=1}", { tags: "a=1" }, 1],
];

for (const [name, fields, query, legacy, problems] of CASES) {
  test(`TraceQL from the fields: ${name}`, () => {
    const built = buildTraceQL({ ...EMPTY, ...fields });
    assert.deepEqual([built.query, built.legacy, built.problems.length], [query, legacy, problems]);
  });
}

test("Tempo's search answer as rows, newest first, with span counts from serviceStats", () => {
  const answer = {
    traces: [
      {
        traceID: "2f3e0cee77ae5dc9c17ade3689eb2e54",
        rootServiceName: "shop-backend",
        rootTraceName: "update-billing",
        startTimeUnixNano: "1684778327699392724",
        durationMs: 557,
        spanSets: [{ spans: [], matched: 1 }],
        serviceStats: { "shop-backend": { spanCount: 4, errorCount: 1 }, db: { spanCount: 2 } },
      },
      {
        traceID: "7a1d2dd4deaf177e0acf55b3c49032",
        rootServiceName: "mythical-server",
        rootTraceName: "HTTP GET",
        startTimeUnixNano: "1684778330000000000",
        spanSet: { spans: [], matched: 3 },
      },
    ],
    metrics: { totalBlocks: 13 },
  };
  assert.deepEqual(traceRows(answer), [
    { traceId: "7a1d2dd4deaf177e0acf55b3c49032", rootService: "mythical-server", rootName: "HTTP GET", startMs: 1684778330000, durationMs: 0, spans: null, errors: 0, matched: 3 },
    { traceId: "2f3e0cee77ae5dc9c17ade3689eb2e54", rootService: "shop-backend", rootName: "update-billing", startMs: 1684778327699, durationMs: 557, spans: 6, errors: 1, matched: 1 },
  ]);
  assert.deepEqual(traceRows({}), []);
});
