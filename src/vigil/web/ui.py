"""The web UI's routes: the built bundle under /static/ and index.html for every page path.

The bundle is built from `ui/` by `make` (esbuild) into `vigil/web/static/`, which the wheel
ships, so users who pip-install vigil need no Node. Files are read once, gzipped once and
served with an ETag; pages are client-side routes that all answer with the same index.html.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import posixpath
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

STATIC_DIR = Path(__file__).parent / "static"

# Paths the UI routes itself (ui/src/main.ts); the server answers each with index.html.
PAGE_PATHS = (
    "/",
    "/query",
    "/graph",
    "/targets",
    "/rules",
    "/alerts",
    "/silences",
    "/status",
    "/logs",
    "/traces",
    "/traces/{id}",
    "/dashboards",
    "/d/{uid}",
    "/d/{uid}/{slug}",
)

_NOT_BUILT = (
    "vigil's UI assets are not built: {path} is missing.\n"
    "In a source checkout, `make ui` builds them (Node 20 and npm); wheels ship them built.\n"
    "The HTTP API works without them: /api/v1/query?query=up\n"
)


@dataclass(frozen=True, slots=True)
class _Asset:
    body: bytes
    gzipped: bytes
    etag: str
    media_type: str


class UIAssets:
    """Serves the built UI from `root`, caching each file's bytes, gzip and ETag in memory,
    keyed by the resolved file: the cache holds at most the bundle's files whatever the URLs."""

    def __init__(self, root: Path = STATIC_DIR) -> None:
        self.root = root
        self._cache: dict[Path, _Asset] = {}

    def routes(self) -> list[BaseRoute]:
        pages: list[BaseRoute] = [Route(p, self.page, methods=["GET", "HEAD"]) for p in PAGE_PATHS]
        return [*pages, Route("/static/{name:path}", self.static, methods=["GET", "HEAD"])]

    async def page(self, request: Request) -> Response:
        return self._serve(request, "index.html", cache="no-cache")

    async def static(self, request: Request) -> Response:
        return self._serve(request, request.path_params["name"], cache="no-cache")

    def _serve(self, request: Request, name: str, cache: str) -> Response:
        asset = self._load(name)
        if asset is None:
            if name == "index.html":
                return PlainTextResponse(_NOT_BUILT.format(path=self.root / name), status_code=503)
            return PlainTextResponse(f"no UI asset named {name!r}\n", status_code=404)
        headers = {
            "ETag": asset.etag,
            "Cache-Control": cache,
            "Vary": "Accept-Encoding",
            "X-Content-Type-Options": "nosniff",
        }
        if name == "index.html":
            headers["Content-Security-Policy"] = _CSP
            headers["X-Frame-Options"] = "DENY"
        if request.headers.get("if-none-match") == asset.etag:
            return Response(status_code=304, headers=headers)
        body = asset.body
        if "gzip" in request.headers.get("accept-encoding", "") and asset.gzipped:
            body = asset.gzipped
            headers["Content-Encoding"] = "gzip"
        return Response(body, media_type=asset.media_type, headers=headers)

    def _resolve(self, name: str) -> Path | None:
        """The file `name` names inside the root, or None (outside it, NUL, not a file)."""
        clean = posixpath.normpath(name)
        if "\x00" in clean or clean == ".." or clean.startswith(("/", "../")):
            return None
        root = self.root.resolve()
        path = (root / clean).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return None
        return path

    def _load(self, name: str) -> _Asset | None:
        path = self._resolve(name)
        if path is None:
            return None
        asset = self._cache.get(path)
        if asset is not None:
            return asset
        body = path.read_bytes()
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if media_type.startswith("text/") or media_type.endswith("javascript"):
            media_type += "; charset=utf-8"
        packed = gzip.compress(body, 9, mtime=0) if len(body) > 512 else b""
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        asset = _Asset(body, packed, etag, media_type)
        self._cache[path] = asset
        return asset


# The UI loads only its own bundle and talks only to this origin; inline script is never needed.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
