"""Log collection in `vigil agent`: Docker container logs and files, processed at the edge
and shipped to a Loki-push endpoint with at-least-once positions. The shipper
(`vigil.exporter.logs.push.LokiPusher`) is imported by who ships: it loads the HTTP client."""

from vigil.exporter.logs.collector import DOCKER_CONTAINERS, LogCollectionOptions, LogCollector
from vigil.exporter.logs.multiline import MultilineRule
from vigil.exporter.logs.stages import ClientIP, Drop, Extract, Level

__all__ = [
    "DOCKER_CONTAINERS",
    "ClientIP",
    "Drop",
    "Extract",
    "Level",
    "LogCollectionOptions",
    "LogCollector",
    "MultilineRule",
]
