"""Dashboards over HTTP: vigil's own API for the UI (`/api/vigil/v1/dashboards`) and the few
Grafana calls that tooling uses to push and find dashboards (`POST /api/dashboards/db`,
`GET /api/search`, `GET|DELETE /api/dashboards/uid/{uid}`), all thin over a DashboardStore.

vigil's routes answer in the Prometheus API's envelope; Grafana's routes in Grafana's shapes
(`{"message": ...}` errors, 412 for a uid that exists), so `curl`-based provisioning scripts
and grafana-dashboard tools work unchanged against vigil.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from vigil.dashboards import (
    MAX_BYTES,
    BuiltinDashboardError,
    Dashboard,
    DashboardConflictError,
    DashboardError,
    DashboardNotFoundError,
    DashboardStore,
    DashboardSummary,
)
from vigil.web.api import success
from vigil.web.body import read_capped

PREFIX = "/api/vigil/v1/dashboards"
_MULTIPART_SLACK = 64 * 1024  # a multipart body's boundaries and headers around the file


class _BodyError(Exception):
    """A request body that cannot even be read as a dashboard upload."""


def _error(status: int, error_type: str, message: str) -> Response:
    """The Prometheus API's error envelope with an explicit status (409 and 403 have no
    Prometheus error type of their own)."""
    body = {"status": "error", "errorType": error_type, "error": message}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _grafana_error(code: int, message: str, status: str | None = None) -> Response:
    body = {"message": message} if status is None else {"message": message, "status": status}
    return Response(orjson.dumps(body), status_code=code, media_type="application/json")


def _rfc3339(seconds: float) -> str | None:
    if not seconds:
        return None  # built-ins: shipped, never written
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def summary_json(entry: DashboardSummary) -> dict[str, Any]:
    body: dict[str, Any] = {
        "uid": entry.uid,
        "title": entry.title,
        "tags": list(entry.tags),
        "builtin": entry.builtin,
        "panels": entry.panels,
        "updated": _rfc3339(entry.updated),
    }
    if entry.error is not None:
        body["error"] = entry.error
    return body


def _dashboard_summary(dashboard: Dashboard) -> DashboardSummary:
    return DashboardSummary(
        dashboard.uid,
        dashboard.title,
        dashboard.tags,
        dashboard.builtin,
        dashboard.panel_count,
        dashboard.updated,
    )


def slug(title: str) -> str:
    """Grafana's URL slug of a title."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def _same_origin(request: Request) -> bool:
    """False for a browser request sent from another site (CSRF): such a request carries
    `Origin` (or `Sec-Fetch-Site`); curl and other tools send neither and are let through."""
    if request.headers.get("sec-fetch-site", "") == "cross-site":
        return False
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


class DashboardsAPI:
    """The routes over one DashboardStore."""

    def __init__(self, store: DashboardStore) -> None:
        self._store = store

    def routes(self) -> list[BaseRoute]:
        return [
            Route(PREFIX, self.list, methods=["GET"]),
            Route(PREFIX, self.create, methods=["POST"]),
            Route(PREFIX + "/{uid}", self.get, methods=["GET"]),
            Route(PREFIX + "/{uid}", self.delete, methods=["DELETE"]),
            # Grafana's own API, for its tooling
            Route("/api/search", self.grafana_search, methods=["GET"]),
            Route("/api/dashboards/db", self.grafana_import, methods=["POST"]),
            Route("/api/dashboards/uid/{uid}", self.grafana_get, methods=["GET"]),
            Route("/api/dashboards/uid/{uid}", self.grafana_delete, methods=["DELETE"]),
        ]

    # --- vigil's API ---

    async def list(self, _: Request) -> Response:
        entries = await run_in_threadpool(self._store.list)
        return success([summary_json(e) for e in entries])

    async def get(self, request: Request) -> Response:
        uid = request.path_params["uid"]
        try:
            dashboard = await run_in_threadpool(self._store.get, uid)
        except DashboardNotFoundError:
            return _error(404, "not_found", f'no dashboard with uid "{uid}"')
        except DashboardError as err:
            return _error(500, "internal", str(err))
        return success(
            {"uid": dashboard.uid, "builtin": dashboard.builtin, "dashboard": dashboard.model}
        )

    async def create(self, request: Request) -> Response:
        if not _same_origin(request):
            return _error(403, "forbidden", "cross-site request refused")
        try:
            raw, source = await _upload(request)
        except _BodyError as err:
            return _error(400, "bad_data", str(err))
        overwrite = request.query_params.get("overwrite", "").lower() in ("true", "1")
        try:
            dashboard = await run_in_threadpool(
                lambda: self._store.import_dashboard(raw, source, overwrite=overwrite)
            )
        except (DashboardConflictError, BuiltinDashboardError) as err:
            return _error(409, "conflict", str(err))
        except DashboardError as err:
            return _error(400, "bad_data", str(err))
        return success(summary_json(_dashboard_summary(dashboard)))

    async def delete(self, request: Request) -> Response:
        if not _same_origin(request):
            return _error(403, "forbidden", "cross-site request refused")
        uid = request.path_params["uid"]
        try:
            await run_in_threadpool(self._store.delete, uid)
        except BuiltinDashboardError:
            return _error(403, "forbidden", f'dashboard "{uid}" is built in and cannot be deleted')
        except DashboardNotFoundError:
            return _error(404, "not_found", f'no dashboard with uid "{uid}"')
        return success({"uid": uid, "deleted": True})

    # --- Grafana's API ---

    async def grafana_search(self, request: Request) -> Response:
        """`GET /api/search`: dashboards in Grafana's hit shape (vigil has no folders)."""
        params = request.query_params
        kind = params.get("type", "dash-db")
        if kind not in ("dash-db", ""):
            return Response(b"[]", media_type="application/json")
        query = params.get("query", "").casefold()
        tags = set(params.getlist("tag"))
        uids = set(params.getlist("dashboardUIDs"))
        limit = _int(params.get("limit"), 1000)
        hits = []
        entries = await run_in_threadpool(self._store.list)
        for number, entry in enumerate(entries, start=1):
            if entry.error is not None:
                continue
            if query and query not in entry.title.casefold():
                continue
            if not tags <= set(entry.tags) or (uids and entry.uid not in uids):
                continue
            hits.append(_grafana_hit(number, entry))
        return Response(orjson.dumps(hits[:limit]), media_type="application/json")

    async def grafana_import(self, request: Request) -> Response:
        """`POST /api/dashboards/db` with `{"dashboard": {...}, "overwrite": bool}`."""
        if not _same_origin(request):
            return _grafana_error(403, "cross-site request refused")
        try:
            raw, source = await _upload(request)
        except _BodyError as err:
            return _grafana_error(400, str(err))
        try:
            dashboard = await run_in_threadpool(self._store.import_dashboard, raw, source)
        except DashboardConflictError as err:
            return _grafana_error(412, err.reason, status="name-exists")
        except DashboardError as err:
            return _grafana_error(400, err.reason)
        entries = await run_in_threadpool(self._store.list)
        number = next((i for i, e in enumerate(entries, 1) if e.uid == dashboard.uid), 0)
        version = dashboard.model.get("version", 1)
        return Response(
            orjson.dumps(
                {
                    "id": number,
                    "uid": dashboard.uid,
                    "url": f"/d/{dashboard.uid}/{slug(dashboard.title)}",
                    "status": "success",
                    "version": version if isinstance(version, int) else 1,
                    "slug": slug(dashboard.title),
                }
            ),
            media_type="application/json",
        )

    async def grafana_get(self, request: Request) -> Response:
        uid = request.path_params["uid"]
        try:
            dashboard = await run_in_threadpool(self._store.get, uid)
        except DashboardNotFoundError:
            return _grafana_error(404, "Dashboard not found")
        except DashboardError as err:
            return _grafana_error(500, str(err))
        meta = {
            "type": "db",
            "slug": slug(dashboard.title),
            "url": f"/d/{dashboard.uid}/{slug(dashboard.title)}",
            "canSave": not dashboard.builtin,
            "canEdit": False,
            "provisioned": dashboard.builtin,
            "updated": _rfc3339(dashboard.updated),
        }
        body = {"dashboard": dashboard.model, "meta": meta}
        return Response(orjson.dumps(body), media_type="application/json")

    async def grafana_delete(self, request: Request) -> Response:
        if not _same_origin(request):
            return _grafana_error(403, "cross-site request refused")
        uid = request.path_params["uid"]
        try:
            dashboard = await run_in_threadpool(self._store.get, uid)
            await run_in_threadpool(self._store.delete, uid)
        except BuiltinDashboardError:
            return _grafana_error(400, "provisioned dashboard cannot be deleted")
        except DashboardNotFoundError:
            return _grafana_error(404, "Dashboard not found")
        except DashboardError as err:
            return _grafana_error(500, str(err))
        return Response(
            orjson.dumps(
                {"title": dashboard.title, "message": f"Dashboard {dashboard.title} deleted"}
            ),
            media_type="application/json",
        )


def _grafana_hit(number: int, entry: DashboardSummary) -> Mapping[str, Any]:
    return {
        "id": number,
        "uid": entry.uid,
        "title": entry.title,
        "uri": f"db/{slug(entry.title)}",
        "url": f"/d/{entry.uid}/{slug(entry.title)}",
        "slug": "",
        "type": "dash-db",
        "tags": list(entry.tags),
        "isStarred": False,
        "sortMeta": 0,
    }


def _int(text: str | None, default: int) -> int:
    try:
        return max(0, int(text)) if text else default
    except ValueError:
        return default


async def _upload(request: Request) -> tuple[bytes, str]:
    """The dashboard bytes of a request and a name for them in errors: a multipart form's
    `file` field (named by its file name) or the raw body. Reading stops past the size cap."""
    declared = _int(request.headers.get("content-length"), 0)
    content_type = request.headers.get("content-type", "")
    too_large = _BodyError(f"request body is more than the {MAX_BYTES >> 20} MiB allowed")
    if content_type.startswith("multipart/form-data"):
        if declared > MAX_BYTES + _MULTIPART_SLACK:
            raise too_large
        form = await request.form(max_files=1, max_fields=10)
        try:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise _BodyError('multipart upload has no file in a field named "file"')
            return await upload.read(MAX_BYTES + 1), f"upload {upload.filename or 'file'}"
        finally:
            await form.close()
    body = await read_capped(request, MAX_BYTES)
    if body is None:
        raise too_large
    if not body.strip():
        raise _BodyError("request body is empty: send a dashboard's JSON or upload a file")
    return body, "request body"
