// npm @opentelemetry/exporter-trace-otlp-http (OTLP/JSON: hex ids, integer enums, int64 as
// strings) exports a small trace to the URL given; the same spans go to the SDK's in-memory
// exporter and are printed on stdout as one JSON document, so the Python test can compare
// the store with what the SDK recorded: {"spans": [{traceId, spanId, parentSpanId, name, kind,
// startNs, endNs, attributes, events: [{name, timeNs, attributes}], links: [{traceId, spanId,
// attributes}], status: {code, message}, resource, scope: {name, version}}]}; times as
// strings of nanoseconds.
// Usage: NODE_PATH=ui/node_modules node otlp_js.cjs <traces url> <export timeout ms>
'use strict'

const api = require('@opentelemetry/api')
const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base')
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http')
const { resourceFromAttributes } = require('@opentelemetry/resources')

const [url, timeoutMillis] = process.argv.slice(2)

function ns ([seconds, nanos]) {
  return (BigInt(seconds) * 1000000000n + BigInt(nanos)).toString()
}

async function main () {
  const memory = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'frontend', 'service.version': '3.1.0' }),
    spanProcessors: [
      new SimpleSpanProcessor(new OTLPTraceExporter({ url, timeoutMillis: Number(timeoutMillis) })),
      new SimpleSpanProcessor(memory)
    ]
  })
  const tracer = provider.getTracer('shop.frontend', '3.1.0')
  const root = tracer.startSpan('GET /cart', {
    kind: api.SpanKind.SERVER,
    attributes: {
      'http.route': '/cart',
      'http.response.status_code': 200,
      ratio: 0.75,
      cached: false,
      tags: ['a', 'b'],
      sizes: [1, 2, 3]
    }
  })
  const context = api.trace.setSpan(api.context.active(), root)
  const child = tracer.startSpan(
    'fetch prices',
    { kind: api.SpanKind.CLIENT, links: [{ context: root.spanContext(), attributes: { why: 'batch' } }] },
    context
  )
  child.addEvent('retry', { attempt: 2 })
  child.setStatus({ code: api.SpanStatusCode.ERROR, message: 'timeout' })
  child.end()
  const producer = tracer.startSpan('publish', { kind: api.SpanKind.PRODUCER }, context)
  producer.setStatus({ code: api.SpanStatusCode.OK })
  producer.end()
  root.end()
  await provider.forceFlush()
  const spans = memory.getFinishedSpans().map(span => ({
    traceId: span.spanContext().traceId,
    spanId: span.spanContext().spanId,
    parentSpanId: span.parentSpanContext ? span.parentSpanContext.spanId : '',
    name: span.name,
    kind: span.kind,
    startNs: ns(span.startTime),
    endNs: ns(span.endTime),
    attributes: span.attributes,
    events: span.events.map(e => ({ name: e.name, timeNs: ns(e.time), attributes: e.attributes || {} })),
    links: span.links.map(l => ({ traceId: l.context.traceId, spanId: l.context.spanId, attributes: l.attributes || {} })),
    status: { code: span.status.code, message: span.status.message || '' },
    resource: span.resource.attributes,
    scope: { name: span.instrumentationScope.name, version: span.instrumentationScope.version || '' }
  }))
  await provider.shutdown()
  process.stdout.write(JSON.stringify({ spans }))
}

main().catch(err => {
  process.stderr.write(String(err && err.stack ? err.stack : err))
  process.exit(1)
})
