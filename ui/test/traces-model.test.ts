// A trace from Tempo's trace-by-id answer: OTLP JSON (hex ids, or protobuf-JSON's base64),
// attribute values as text, the span tree in start order with depths, orphans and errors.
import "./browser-globals";
import { test } from "node:test";
import assert from "node:assert/strict";
import { formatNs, hexId, shownRows, spansOf, traceOf, valueText } from "../src/traces_model";

const TRACE = "0af7651916cd43dd8448eb211c80319c";
const T0 = 1_765_000_000_000_000_000n;
const at = (ms: number): string => String(T0 + BigInt(ms) * 1_000_000n);

/** Tempo's /api/v2/traces/{id} answer: two services, a client → server call, an error, an event, a link. */
const ANSWER = {
  trace: {
    resourceSpans: [
      {
        resource: { attributes: [{ key: "service.name", value: { stringValue: "shop" } }, { key: "host.name", value: { stringValue: "vm1" } }] },
        scopeSpans: [
          {
            scope: { name: "opentelemetry.instrumentation.flask", version: "0.50b0" },
            spans: [
              {
                traceId: TRACE,
                spanId: "b7ad6b7169203331",
                parentSpanId: "",
                name: "GET /cart",
                kind: 2,
                startTimeUnixNano: at(0),
                endTimeUnixNano: at(120),
                attributes: [
                  { key: "http.route", value: { stringValue: "/cart" } },
                  { key: "http.response.status_code", value: { intValue: "500" } },
                ],
                status: { code: 2, message: "boom" },
                events: [{ timeUnixNano: at(100), name: "exception", attributes: [{ key: "exception.type", value: { stringValue: "KeyError" } }] }],
              },
              {
                traceId: TRACE,
                spanId: "00f067aa0ba902b7",
                parentSpanId: "b7ad6b7169203331",
                name: "GET",
                kind: "SPAN_KIND_CLIENT",
                startTimeUnixNano: at(30),
                endTimeUnixNano: at(90),
                links: [{ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "53995c3f42cd8ad8" }],
              },
              {
                traceId: TRACE,
                spanId: "1111111111111111",
                parentSpanId: "b7ad6b7169203331",
                name: "render",
                startTimeUnixNano: at(10),
                endTimeUnixNano: at(20),
              },
            ],
          },
        ],
      },
      {
        resource: { attributes: [{ key: "service.name", value: { stringValue: "prices" } }] },
        scopeSpans: [
          {
            spans: [
              {
                traceId: TRACE,
                spanId: "2222222222222222",
                parentSpanId: "00f067aa0ba902b7",
                name: "GET /price",
                kind: 2,
                startTimeUnixNano: at(40),
                endTimeUnixNano: at(80),
                status: { code: "STATUS_CODE_OK" },
              },
              {
                traceId: TRACE,
                spanId: "3333333333333333",
                parentSpanId: "9999999999999999",
                name: "late",
                startTimeUnixNano: at(5),
                endTimeUnixNano: at(6),
              },
            ],
          },
        ],
      },
    ],
  },
};

test("ids in hex stay; protobuf JSON's base64 ids become hex", () => {
  assert.equal(hexId("0AF7651916CD43DD8448EB211C80319C", 16), TRACE);
  assert.equal(hexId("CvdlGRbNQ92ESOshHIAxnA==", 16), TRACE);
  assert.equal(hexId("APBnqgupArc=", 8), "00f067aa0ba902b7");
  assert.equal(hexId(undefined, 8), "");
});

test("attribute values of every OTLP type as text", () => {
  assert.deepEqual(
    [
      { stringValue: "a" },
      { intValue: "42" },
      { doubleValue: 1.5 },
      { boolValue: false },
      { arrayValue: { values: [{ stringValue: "x" }, { intValue: 2 }] } },
      { kvlistValue: { values: [{ key: "k", value: { stringValue: "v" } }] } },
    ].map(valueText),
    ["a", "42", "1.5", "false", '["x", 2]', '{k: "v"}'],
  );
});

test("spans read with their service, kind, status, events and links", () => {
  const spans = spansOf(ANSWER);
  assert.deepEqual(
    spans.map((s) => [s.service, s.name, s.kind, s.status]),
    [
      ["shop", "GET /cart", "server", "error"],
      ["shop", "GET", "client", "unset"],
      ["shop", "render", "unspecified", "unset"],
      ["prices", "GET /price", "server", "ok"],
      ["prices", "late", "unspecified", "unset"],
    ],
  );
  const root = spans[0];
  assert.equal(root.statusMessage, "boom");
  assert.equal(root.scope, "opentelemetry.instrumentation.flask 0.50b0");
  assert.deepEqual(root.attributes, [["http.route", "/cart"], ["http.response.status_code", "500"]]);
  assert.deepEqual(root.resource, [["service.name", "shop"], ["host.name", "vm1"]]);
  assert.deepEqual(root.events, [{ timeNs: T0 + 100_000_000n, name: "exception", attributes: [["exception.type", "KeyError"]] }]);
  assert.deepEqual(spans[1].links, [{ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "53995c3f42cd8ad8", attributes: [] }]);
});

test("the tree: children in start order under their parent, the orphan last, services in call order", () => {
  const trace = traceOf(TRACE, spansOf(ANSWER));
  assert.deepEqual(
    trace.rows.map((r) => [r.span.name, r.depth, r.orphan]),
    [
      ["GET /cart", 0, false],
      ["render", 1, false],
      ["GET", 1, false],
      ["GET /price", 2, false],
      ["late", 0, true],
    ],
  );
  assert.deepEqual(trace.services, ["shop", "prices"]);
  assert.equal(trace.root?.name, "GET /cart");
  assert.equal(trace.errors, 1);
  assert.equal(trace.endNs - trace.startNs, 120_000_000n);
});

test("a cycle of parent ids lists each span once", () => {
  const [a, b] = spansOf(ANSWER).slice(1, 3);
  const cyclic = [
    { ...a, spanId: "aa", parentId: "bb" },
    { ...b, spanId: "bb", parentId: "aa" },
  ];
  assert.deepEqual(
    traceOf(TRACE, cyclic).rows.map((r) => [r.span.spanId, r.orphan]),
    [
      ["aa", true],
      ["bb", true],
    ],
  );
});

test("the v1 answer ({batches}) reads the same", () => {
  assert.equal(spansOf({ batches: ANSWER.trace.resourceSpans }).length, 5);
});

test("durations as people read them", () => {
  assert.deepEqual(
    [512, 850_000, 12_345_678, 2_510_000_000, 63_000_000_000, 7_260_000_000_000].map(formatNs),
    ["512ns", "850µs", "12.3ms", "2.51s", "1m 3s", "2h 1m"],
  );
});

test("a folded row hides the deeper rows after it; a fold inside a folded one waits for it to open", () => {
  const depths = [0, 1, 2, 2, 1, 2, 0];
  assert.deepEqual(shownRows(depths, new Set()), [true, true, true, true, true, true, true]);
  assert.deepEqual(shownRows(depths, new Set([1])), [true, true, false, false, true, true, true]);
  assert.deepEqual(shownRows(depths, new Set([0, 1])), [true, false, false, false, false, false, true]);
  assert.deepEqual(shownRows(depths, new Set([4])), [true, true, true, true, true, false, true]);
});
