"""How a flag's text becomes a value and how the value is shown again (in `--help` and on
`/api/v1/status/flags`): Prometheus's durations and sizes, URLs, paths, numbers."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Kind(Generic[T]):
    """`parse` is argparse's `type` (raises ArgumentTypeError with what would be valid)."""

    parse: Callable[[str], T]
    show: Callable[[T], str]
    metavar: str


def duration_ms(text: str) -> int:
    """A Prometheus duration (`15d`, `1h30m`) in milliseconds."""
    from vigil.config.duration import Duration, DurationError

    try:
        return Duration.parse(text).milliseconds
    except DurationError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _show_ms(ms: int) -> str:
    from vigil.config.duration import Duration

    return str(Duration(ms))


_SIZE_UNITS = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40, "PB": 1 << 50}


def size_bytes(text: str) -> int:
    """Prometheus's `--storage.tsdb.retention.size` units (base 1024): `512MB`, `10GB`."""
    upper = text.strip().upper()
    for unit in sorted(_SIZE_UNITS, key=len, reverse=True):
        number = upper[: -len(unit)]
        if upper.endswith(unit) and number.isdigit():
            return int(number) * _SIZE_UNITS[unit]
    if upper.isdigit():
        return int(upper)
    raise argparse.ArgumentTypeError(f"{text!r} is not a size (e.g. 512MB, 10GB)")


def _show_size(size: int) -> str:
    for unit, factor in reversed(_SIZE_UNITS.items()):
        if size and size % factor == 0:
            return f"{size // factor}{unit}"
    return "0B"


def http_url(text: str) -> str:
    """An http(s) URL with a host (its path is the API's prefix), or empty."""
    parts = urlsplit(text)
    if text and (parts.scheme not in ("http", "https") or not parts.netloc):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an http:// or https:// URL (e.g. http://vm.example:8428)"
        )
    return text


def _path(text: str) -> Path | None:
    return Path(text) if text else None


def _show_path(path: Path | None) -> str:
    return "" if path is None else str(path)


TEXT: Kind[str] = Kind(str, str, "TEXT")
URL: Kind[str] = Kind(http_url, str, "URL")
PATH: Kind[Path | None] = Kind(_path, _show_path, "PATH")
DIR: Kind[Path] = Kind(Path, str, "DIR")
INT: Kind[int] = Kind(int, str, "N")


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number >= 0 (e.g. 4, 0.5)")
    return value


NUMBER: Kind[float] = Kind(_non_negative, lambda v: f"{v:g}", "NUMBER")
SIZE: Kind[int] = Kind(size_bytes, _show_size, "SIZE")
DURATION_MS: Kind[int] = Kind(duration_ms, _show_ms, "DURATION")
DURATION_S: Kind[float] = Kind(
    lambda text: duration_ms(text) / 1000, lambda s: _show_ms(round(s * 1000)), "DURATION"
)
GLOBS: Kind[tuple[str, ...]] = Kind(
    lambda text: tuple(g.strip() for g in text.split(",") if g.strip()), ",".join, "GLOB,..."
)
NAMES: Kind[tuple[str, ...]] = Kind(
    lambda text: tuple(n.strip() for n in text.split(",") if n.strip()), ",".join, "NAME,..."
)
SWITCH: Kind[bool] = Kind(lambda text: text == "true", lambda on: str(on).lower(), "")
