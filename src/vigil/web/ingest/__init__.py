"""The log push endpoints (Loki push, OTLP logs, Elasticsearch `_bulk`): each reads a bounded
body, hands it to its decoder in vigil.logs.ingest and stores the result through the
`LogAppender`, answering as the real server would."""
