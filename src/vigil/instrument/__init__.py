"""Python apps the way vigil reads Spring Boot ones: `instrument(app, service_name=...)`
gives a FastAPI, Starlette, Flask or Django app Micrometer's RED metrics on /metrics, the
client's address behind trusted proxies, health checks kept out, the request's context on
every log record (JSON as logstash-logback-encoder writes it) and OpenTelemetry traces.

Importing this package loads no framework, no numpy and no OpenTelemetry: `instrument`
loads what the app uses."""

from vigil.instrument._context import RequestContext, RequestInfo, bind, client_ip, current
from vigil.instrument._logging import LogstashFormatter
from vigil.instrument._setup import instrument

__all__ = [
    "LogstashFormatter",
    "RequestContext",
    "RequestInfo",
    "bind",
    "client_ip",
    "current",
    "instrument",
]
