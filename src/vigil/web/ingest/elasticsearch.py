"""Enough of Elasticsearch's API for shippers to write logs to vigil: `GET|HEAD /` (a version
document clients accept), `POST|PUT /_bulk` and `/{index}/_bulk` with per-item results, and
harmless answers to the calls shippers make before writing (license, ILM policies, index
templates, ingest pipelines, nodes, Logstash). Every answer carries `X-Elastic-Product:
Elasticsearch`, without which elasticsearch-py refuses the server. Served at the root of
`--elasticsearch.listen-address` (clients call `GET /`) and under `/elasticsearch/` on the
main port."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vigil.logs import LogAppender
from vigil.logs.ingest import elasticsearch
from vigil.logs.ingest.batch import Push
from vigil.logs.ingest.discovery import Discovery, DiscoveryOptions
from vigil.logs.ingest.elasticsearch import Bulk, BulkOptions, Item
from vigil.web.ingest.endpoint import IngestEndpoint, IngestLimits

PREFIX = "/elasticsearch"
VERSION = "8.17.0"
_PRODUCT = (b"x-elastic-product", b"Elasticsearch")
_COMPATIBLE = re.compile(r"compatible-with\s*=\s*(\d+)")
_BULK_TYPES = frozenset(
    {
        "application/x-ndjson",
        "application/json",
        "application/vnd.elasticsearch+x-ndjson",
        "application/vnd.elasticsearch+json",
        "text/plain",
    }
)
_ACK = {"acknowledged": True}
_DISCOVERY = DiscoveryOptions()
_LIMITS = IngestLimits()
_OPTIONS = BulkOptions()


class ElasticsearchAPI:
    def __init__(
        self,
        appender: Callable[[], LogAppender],
        options: BulkOptions = _OPTIONS,
        discovery: DiscoveryOptions = _DISCOVERY,
        limits: IngestLimits = _LIMITS,
        now_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self._endpoint = IngestEndpoint(appender, "Elasticsearch bulk", limits)
        self._options = options
        self._discovery = Discovery(discovery)
        self._now_ns = now_ns
        self._cluster_uuid = secrets.token_urlsafe(16)

    def app(self) -> ASGIApp:
        """The API at the root, as the dedicated listener serves it."""
        return _ElasticProduct(
            Starlette(
                routes=list(self._routes()),
                exception_handlers={HTTPException: _http_error},
            )
        )

    def routes(self) -> Sequence[BaseRoute]:
        """The API under /elasticsearch, for the main port."""
        return [Mount(PREFIX, app=self.app())]

    def _routes(self) -> Sequence[BaseRoute]:
        write = ["POST", "PUT"]
        return [
            Route("/", self.info, methods=["GET", "HEAD"]),
            Route("/_bulk", self.bulk, methods=write),
            Route("/{index}/_bulk", self.bulk, methods=write),
            Route("/_license", self.license, methods=["GET"]),
            Route("/_ilm/policy/{name}", self.acknowledge, methods=["GET", "HEAD", "PUT"]),
            Route("/_index_template/{name}", self.template, methods=["GET", "HEAD", "PUT"]),
            Route("/_template/{name}", self.acknowledge, methods=["GET", "HEAD", "PUT"]),
            Route("/_ingest/{rest:path}", self.acknowledge, methods=["GET", "PUT"]),
            Route("/_nodes", self.nodes, methods=["GET"]),
            Route("/_nodes/{rest:path}", self.nodes, methods=["GET"]),
            Route("/_logstash/{rest:path}", self.acknowledge, methods=["GET", "PUT"]),
        ]

    async def info(self, request: Request) -> Response:
        return _json(
            request,
            {
                "name": "vigil",
                "cluster_name": "vigil",
                "cluster_uuid": self._cluster_uuid,
                "version": {
                    "number": VERSION,
                    "build_flavor": "default",
                    "build_type": "docker",
                    "build_hash": "vigil",
                    "build_date": "2024-12-11T12:08:05.663969764Z",
                    "build_snapshot": False,
                    "lucene_version": "9.12.0",
                    "minimum_wire_compatibility_version": "7.17.0",
                    "minimum_index_compatibility_version": "7.0.0",
                },
                "tagline": "You Know, for Search",
            },
        )

    async def license(self, request: Request) -> Response:
        return _json(
            request,
            {
                "license": {
                    "status": "active",
                    "uid": self._cluster_uuid,
                    "type": "basic",
                    "issue_date_in_millis": 0,
                    "max_nodes": 1000,
                    "issued_to": "vigil",
                    "issuer": "vigil",
                    "start_date_in_millis": -1,
                }
            },
        )

    async def acknowledge(self, request: Request) -> Response:
        return _json(request, _ACK if request.method == "PUT" else {})

    async def template(self, request: Request) -> Response:
        if request.method == "PUT":
            return _json(request, _ACK)
        return _json(request, {"index_templates": []})

    async def nodes(self, request: Request) -> Response:
        return _json(
            request,
            {
                "_nodes": {"total": 1, "successful": 1, "failed": 0},
                "cluster_name": "vigil",
                "nodes": {},
            },
        )

    async def bulk(self, request: Request) -> Response:
        started = time.monotonic()
        content_type = request.headers.get("content-type", "")
        kind = content_type.partition(";")[0].strip().lower()
        if kind and kind not in _BULK_TYPES:
            return _error(
                request,
                406,
                "media_type_header_exception",
                f"Content-Type header [{content_type}] is not supported",
            )
        index = request.path_params.get("index", "")
        decoded: list[Bulk] = []
        options, discovery, now_ns = self._options, self._discovery, self._now_ns

        def decoder(raw: bytes) -> Push:
            bulk = elasticsearch.decode(raw, index, options, discovery, now_ns)
            decoded.append(bulk)
            return bulk.push

        result = await self._endpoint.store(request, decoder)
        if isinstance(result, Response):
            reason = bytes(result.body).decode()
            retry = result.headers.get("retry-after")
            kind_ = "illegal_argument_exception" if result.status_code < 500 else "unavailable"
            response = _error(request, result.status_code, kind_, reason)
            if retry:
                response.headers["Retry-After"] = retry
            return response
        items = decoded[0].items
        elasticsearch.settle(items, result)
        return _json(
            request,
            {
                "errors": any(item.status >= 300 for item in items),
                "took": round((time.monotonic() - started) * 1000),
                "items": [_item(item) for item in items],
            },
        )


def _item(item: Item) -> dict[str, Any]:
    body: dict[str, Any] = {
        "_index": item.index,
        "_id": item.doc_id or secrets.token_urlsafe(15),
        "status": item.status,
    }
    if item.status < 300:
        body |= {
            "_version": 1,
            "result": "created",
            "_shards": {"total": 1, "successful": 1, "failed": 0},
            "_seq_no": 0,
            "_primary_term": 1,
        }
    else:
        body["error"] = {"type": item.error_type, "reason": item.reason}
    return {item.action: body}


def _media_type(request: Request) -> str:
    """Elasticsearch answers in the compatible-with version a client asked for."""
    for header in ("accept", "content-type"):
        match = _COMPATIBLE.search(request.headers.get(header, ""))
        if match is not None:
            return f"application/vnd.elasticsearch+json;compatible-with={match.group(1)}"
    return "application/json"


def _json(request: Request, body: Any, status: int = 200) -> Response:
    content = b"" if request.method == "HEAD" else orjson.dumps(body)
    return Response(content, status_code=status, media_type=_media_type(request))


def _error(request: Request, status: int, kind: str, reason: str) -> Response:
    cause = {"type": kind, "reason": reason}
    return _json(request, {"error": {"root_cause": [cause], **cause}, "status": status}, status)


async def _http_error(request: Request, err: Exception) -> Response:
    """Unknown paths and methods, answered as Elasticsearch answers them."""
    status = err.status_code if isinstance(err, HTTPException) else 500
    kind = "resource_not_found_exception" if status == 404 else "illegal_argument_exception"
    reason = f"no handler found for uri [{request.url.path}] and method [{request.method}]"
    response = _error(request, status, kind, reason)
    if isinstance(err, HTTPException) and err.headers:
        response.headers.update(err.headers)
    return response


class _ElasticProduct:
    """Adds `X-Elastic-Product: Elasticsearch` to every answer, 404s and 405s included."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def send_with_product(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), _PRODUCT]
            await send(message)

        await self._app(scope, receive, send_with_product)
