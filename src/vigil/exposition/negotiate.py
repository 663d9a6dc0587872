"""Content negotiation for `/metrics`: which format and encoding a scraper asked for."""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from dataclasses import dataclass

from vigil.exposition._types import Format, MetricFamily
from vigil.exposition.render import (
    OPENMETRICS_CONTENT_TYPE,
    TEXT_CONTENT_TYPE,
    render,
)


def negotiate_format(accept: str | None) -> Format:
    """OpenMetrics when the client ranks `application/openmetrics-text` (1.0.0 or
    unversioned) at least as high as anything else it accepts; text 0.0.4 otherwise."""
    if not accept:
        return Format.TEXT
    best_q = -1.0
    best = Format.TEXT
    for index, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        version = None
        for param in params:
            key, _, value = param.partition("=")
            key = key.strip().lower()
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
            elif key == "version":
                version = value.strip()
        media = media.lower()
        if media == "application/openmetrics-text" and version in (None, "1.0.0", "0.0.1"):
            fmt = Format.OPENMETRICS
        elif media in ("text/plain", "*/*", "text/*"):
            fmt = Format.TEXT
        else:
            continue
        # Earlier entries win ties, as clients list their preference first.
        if q > best_q or (q == best_q and index == 0):
            best_q, best = q, fmt
    return best if best_q > 0 else Format.TEXT


def accepts_gzip(accept_encoding: str | None) -> bool:
    if not accept_encoding:
        return False
    for part in accept_encoding.split(","):
        coding, *params = (p.strip() for p in part.split(";"))
        if coding.lower() in ("gzip", "*"):
            return not any(p.replace(" ", "") in ("q=0", "q=0.0", "q=0.00") for p in params)
    return False


@dataclass(frozen=True, slots=True)
class Exposition:
    body: bytes
    content_type: str
    content_encoding: str | None


def expose(
    families: Iterable[MetricFamily], accept: str | None, accept_encoding: str | None
) -> Exposition:
    """Render families for a scraper's Accept / Accept-Encoding headers."""
    fmt = negotiate_format(accept)
    body = render(families, fmt).encode("utf-8")
    content_type = OPENMETRICS_CONTENT_TYPE if fmt is Format.OPENMETRICS else TEXT_CONTENT_TYPE
    if accepts_gzip(accept_encoding):
        return Exposition(gzip.compress(body, compresslevel=1), content_type, "gzip")
    return Exposition(body, content_type, None)
