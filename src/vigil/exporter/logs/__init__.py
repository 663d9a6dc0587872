"""Log collection in `vigil agent`: Docker container logs and files, processed at the edge
and shipped to a Loki-push endpoint with at-least-once positions."""

from vigil.exporter.logs.collector import DOCKER_CONTAINERS, LogCollectionOptions, LogCollector
from vigil.exporter.logs.multiline import MultilineRule
from vigil.exporter.logs.push import LokiPusher
from vigil.exporter.logs.stages import ClientIP, Drop, Extract, Level

__all__ = [
    "DOCKER_CONTAINERS",
    "ClientIP",
    "Drop",
    "Extract",
    "Level",
    "LogCollectionOptions",
    "LogCollector",
    "LokiPusher",
    "MultilineRule",
]
