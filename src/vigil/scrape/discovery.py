"""Target discovery: static_configs, file_sd_configs (polled on the clock) and http_sd_configs.

Each discoverer holds its current target groups and the errors of its last refresh. A source
that cannot be read (a file mid-edit, an SD endpoint returning 500) keeps its last good
groups, as Prometheus does, so a typo never makes targets vanish and their series go stale.
"""

from __future__ import annotations

import glob
import json
import os
import re
from collections.abc import Callable
from typing import Protocol

import httpx

from vigil import __version__
from vigil.config._yaml import ConfigError
from vigil.config.discovery import FileSDConfig, HTTPSDConfig
from vigil.config.targetgroup import TargetGroup, _json_groups, load_sd_file
from vigil.model.clock import Clock
from vigil.model.gofloat import format_float

FILEPATH_LABEL = "__meta_filepath"
URL_LABEL = "__meta_url"
DEFAULT_FILE_POLL_SECONDS = 5.0
_JSON_CONTENT_TYPE = re.compile(r"^application/json(;.*)?$")


class Discoverer(Protocol):
    """A source of target groups for one scrape pool."""

    def groups(self) -> tuple[TargetGroup, ...]: ...

    def errors(self) -> list[str]: ...

    async def run(self, changed: Callable[[], None]) -> None:
        """Keep the groups fresh until cancelled; call `changed` whenever they change."""
        ...


class StaticDiscovery:
    """`static_configs`: groups fixed by the config."""

    def __init__(self, groups: tuple[TargetGroup, ...]) -> None:
        self._groups = groups

    def groups(self) -> tuple[TargetGroup, ...]:
        return self._groups

    def errors(self) -> list[str]:
        return []

    async def run(self, changed: Callable[[], None]) -> None:
        return None


class FileDiscovery:
    """One `file_sd_configs` entry: its globs re-expanded and the files' mtimes polled every
    `poll_interval` seconds; every file is re-read at least every `refresh_interval`."""

    def __init__(
        self,
        config: FileSDConfig,
        clock: Clock,
        poll_interval: float = DEFAULT_FILE_POLL_SECONDS,
    ) -> None:
        self.config = config
        self._clock = clock
        self._poll_interval = poll_interval
        self._stamps: dict[str, tuple[int, int]] = {}
        self._by_file: dict[str, tuple[TargetGroup, ...]] = {}
        self._errors: dict[str, str] = {}
        self._next_full_read = 0.0

    def groups(self) -> tuple[TargetGroup, ...]:
        return tuple(group for path in sorted(self._by_file) for group in self._by_file[path])

    def errors(self) -> list[str]:
        return [self._errors[path] for path in sorted(self._errors)]

    def refresh(self) -> bool:
        """Re-read new and changed files; True when the groups changed."""
        now = self._clock.now()
        full = now >= self._next_full_read
        if full:
            self._next_full_read = now + self.config.refresh_interval.seconds
        paths = sorted({path for pattern in self.config.files for path in glob.glob(pattern)})
        changed = False
        for path in paths:
            try:
                status = os.stat(path)
            except OSError:
                continue  # removed between glob and stat: the next poll drops it
            stamp = (status.st_mtime_ns, status.st_size)
            if not full and self._stamps.get(path) == stamp:
                continue
            self._stamps[path] = stamp
            try:
                groups = _with_label(load_sd_file(path), FILEPATH_LABEL, path)
            except ConfigError as err:
                self._errors[path] = f"file_sd: {err}"
                continue
            self._errors.pop(path, None)
            if self._by_file.get(path) != groups:
                self._by_file[path] = groups
                changed = True
        for path in set(self._by_file) - set(paths):
            del self._by_file[path]
            changed = True
        for path in set(self._stamps) - set(paths):
            del self._stamps[path]
            self._errors.pop(path, None)
        return changed

    async def run(self, changed: Callable[[], None]) -> None:
        while True:
            if self.refresh():
                changed()
            await self._clock.sleep_until(self._clock.now() + self._poll_interval)


class HTTPDiscovery:
    """One `http_sd_configs` entry: a JSON list of target groups fetched every
    `refresh_interval`; a failed fetch keeps the last good list and reports why."""

    def __init__(self, config: HTTPSDConfig, clock: Clock, client: httpx.AsyncClient) -> None:
        self.config = config
        self._clock = clock
        self._client = client
        self._groups: tuple[TargetGroup, ...] = ()
        self._error = ""

    def groups(self) -> tuple[TargetGroup, ...]:
        return self._groups

    def errors(self) -> list[str]:
        return [self._error] if self._error else []

    async def refresh(self) -> bool:
        """Fetch once; True when the groups changed."""
        url = self.config.url
        try:
            groups = await self._fetch()
        except (httpx.HTTPError, ValueError) as err:
            self._error = f"http_sd {url}: {err or type(err).__name__}"
            return False
        self._error = ""
        if groups == self._groups:
            return False
        self._groups = groups
        return True

    async def _fetch(self) -> tuple[TargetGroup, ...]:
        url = self.config.url
        interval = self.config.refresh_interval.seconds
        response = await self._client.get(
            url,
            headers={
                "Accept": "application/json",
                "User-Agent": f"vigil/{__version__}",
                "X-Prometheus-Refresh-Interval-Seconds": format_float(interval, "f"),
            },
            timeout=max(1.0, min(interval, 30.0)),
        )
        if response.status_code != 200:
            raise ValueError(
                f"server returned HTTP status {response.status_code} {response.reason_phrase}"
            )
        content_type = response.headers.get("content-type", "")
        if _JSON_CONTENT_TYPE.match(content_type.strip()) is None:
            raise ValueError(f"unsupported content type {json.dumps(content_type)}")
        try:
            groups = _json_groups(response.text, url)
        except ConfigError as err:
            raise ValueError(str(err)) from None
        return _with_label(groups, URL_LABEL, url)

    async def close(self) -> None:
        await self._client.aclose()

    async def run(self, changed: Callable[[], None]) -> None:
        while True:
            if await self.refresh():
                changed()
            await self._clock.sleep_until(self._clock.now() + self.config.refresh_interval.seconds)


def _with_label(groups: tuple[TargetGroup, ...], name: str, value: str) -> tuple[TargetGroup, ...]:
    return tuple(
        TargetGroup(g.targets, g.labels.with_label(name, value), g.source, g.line) for g in groups
    )
