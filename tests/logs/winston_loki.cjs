// npm winston-loki (winston's Loki transport) pushes log lines to the Loki at the URL given, in the
// format given: `protobuf` (snappy-compressed logproto.PushRequest) or `json` (with
// structured metadata). Every request body the transport sends is captured as sent,
// decoded with winston-loki's own protobufjs classes, and printed as one JSON document
// on stdout: {"requests": [{"contentType", "status": "ok"|"<error>", "streams": [{labels, entries:
// [[ns string, line, {metadata}]]}]}]}, so the Python test can compare the store with it.
// Usage: NODE_PATH=ui/node_modules node winston_loki.cjs <base url> <protobuf|json>
'use strict'

const winston = require('winston')
const LokiTransport = require('winston-loki')
const requests = require('winston-loki/src/requests')
const { logproto } = require('winston-loki/src/proto')
const snappy = require('snappy')

const [url, format] = process.argv.slice(2)
const sent = []

function decode (contentType, body) {
  if (contentType === 'application/json') {
    return JSON.parse(body).streams.map(s => ({ labels: s.stream, entries: s.values }))
  }
  const request = logproto.PushRequest.decode(snappy.uncompressSync(body))
  return request.streams.map(s => ({
    labels: s.labels,
    entries: s.entries.map(e => [
      (BigInt(e.timestamp.seconds.toString()) * 1000000000n + BigInt(e.timestamp.nanos)).toString(),
      e.line,
      {}
    ])
  }))
}

const post = requests.post
requests.post = async (lokiUrl, contentType, headers, data, ...rest) => {
  const record = { contentType, streams: decode(contentType, data), status: 'ok' }
  sent.push(record)
  try {
    return await post(lokiUrl, contentType, headers, data, ...rest)
  } catch (err) {
    record.status = String(err.message)
    throw err
  }
}

async function main () {
  const transport = new LokiTransport({
    host: url,
    json: format === 'json',
    batching: true,
    interval: 3600,
    replaceTimestamp: false,
    gracefulShutdown: false,
    labels: { app: 'shop-frontend', region: 'eu-west' },
    onConnectionError: err => console.error(err)
  })
  const logger = winston.createLogger({ level: 'debug', transports: [transport] })
  const base = Date.UTC(2024, 4, 1, 12, 0, 0, 0)
  logger.info({ message: 'checkout started', timestamp: base + 1, orderId: 'o-17' })
  logger.warn({ message: 'slow payment provider ✓ ünïcode', timestamp: base + 2 })
  logger.error({ message: 'payment failed', timestamp: base, labels: { team: 'pay' } })
  logger.debug({ message: 'cart "quoted" \\ backslash', timestamp: base + 3, items: 3 })
  logger.info({ message: 'same millisecond, later', timestamp: base + 1 })
  await transport.batcher.sendBatchToLoki().catch(() => {})
  await transport.flush()
  process.stdout.write(JSON.stringify({ requests: sent }))
  transport.close()
}

main().catch(err => {
  console.error(err)
  process.exit(1)
})
