"""Ingest adapters: request bodies of Loki push, OTLP logs, Elasticsearch `_bulk` and syslog
turned into `Entries` batches for a `LogAppender`, with Loki 3's ingest-time discovery."""

from vigil.logs.ingest.batch import IngestRejected, Push, PushBatch
from vigil.logs.ingest.discovery import Discovery, DiscoveryOptions

__all__ = ["Discovery", "DiscoveryOptions", "IngestRejected", "Push", "PushBatch"]
