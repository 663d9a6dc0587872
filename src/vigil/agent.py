"""`vigil agent`: what runs on each app host. Serves vigil's self-metrics and the host
collectors on `/metrics`, the way node_exporter does."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

import vigil
from vigil.selfmetrics import self_registry
from vigil.web.metrics import metrics_endpoint

_INDEX = """<!DOCTYPE html>
<html><head><title>vigil agent</title></head>
<body><h1>vigil agent</h1><p>version {version}</p>
<ul><li><a href="/metrics">Metrics</a></li></ul></body></html>
"""


@dataclass(frozen=True, slots=True)
class AgentOptions:
    listen_address: str = ":9100"
    telemetry_path: str = "/metrics"


def build_app(options: AgentOptions) -> Starlette:
    registry = self_registry()

    async def index(_: Request) -> HTMLResponse:
        return HTMLResponse(_INDEX.format(version=vigil.__version__))

    return Starlette(
        routes=[
            Route("/", index),
            Route(options.telemetry_path, metrics_endpoint(registry)),
        ]
    )
