"""The files the agent follows: Docker's json-file logs (one per container, labelled from the
container's own config) and plain files by glob. Each turns new records into whole entries
(Docker's 16 KiB parts joined, multiline traces merged) and knows the position up to which
everything it read has been handed on, which is what may be committed after a push."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

import orjson

from vigil.exporter.logs.dockerjson import PartialJoiner, decode
from vigil.exporter.logs.entry import LogEntry, StreamLabels, stream_labels
from vigil.exporter.logs.multiline import Line, MultilineMerger, MultilineRule
from vigil.exporter.logs.tail import FileFollower, Position


@dataclass(frozen=True, slots=True)
class ContainerInfo:
    name: str
    image: str
    service: str


def container_info(container_dir: Path) -> ContainerInfo:
    """Name and image from Docker's `config.v2.json` beside the log (no API call needed);
    the short id when that file is missing or unreadable."""
    short = container_dir.name[:12]
    try:
        config = orjson.loads((container_dir / "config.v2.json").read_bytes())
        name = str(config.get("Name") or short).lstrip("/")
        inner = config.get("Config") or {}
        image = str(inner.get("Image") or "")
        labels = inner.get("Labels") or {}
        service = str(labels.get("com.docker.compose.service") or name)
    except (OSError, orjson.JSONDecodeError, AttributeError):
        return ContainerInfo(short, "", short)
    return ContainerInfo(name, image, service)


class ContainerRunState:
    """Whether a json-file log's container still runs, from the `State.Running` that Docker
    writes to `config.v2.json` on each start and exit; the file is re-read only when it changed.
    A container that stopped logs nothing more, so its last entry need not wait for a next line
    (a dying container's last words reach its death alert in time)."""

    def __init__(self, container_dir: Path) -> None:
        self._config = container_dir / "config.v2.json"
        self._seen: tuple[int, int] | None = None
        self._running = True

    def running(self) -> bool:
        try:
            stat = self._config.stat()
        except OSError:
            return True
        if (stat.st_mtime_ns, stat.st_size) != self._seen:
            self._seen = (stat.st_mtime_ns, stat.st_size)
            try:
                state = orjson.loads(self._config.read_bytes()).get("State") or {}
                self._running = bool(state.get("Running", True))
            except (OSError, orjson.JSONDecodeError, AttributeError):
                self._running = True
        return self._running


class FollowedFile:
    """One followed file: its records become entries with `labels` (plus `stream` for Docker
    logs). `docker` decodes json-file lines; otherwise a line's time is when it was read."""

    def __init__(
        self,
        key: str,
        path: Path,
        labels: StreamLabels,
        start: Position | None,
        rule: MultilineRule,
        docker: bool,
    ) -> None:
        self.key = key
        self.labels = labels
        self._docker = docker
        self._rule = rule
        self.follower = FileFollower(path, start)
        self._joiner = PartialJoiner()
        self._mergers: dict[str, MultilineMerger] = {}
        self._container = ContainerRunState(path.parent) if docker else None
        self._last_end: Position | None = start
        self._read_any = False
        self.undecodable = 0

    def _merger(self, stream: str) -> MultilineMerger:
        merger = self._mergers.get(stream)
        if merger is None:
            merger = self._mergers[stream] = MultilineMerger(self._rule)
        return merger

    def read(self, budget: int, now: float) -> list[LogEntry]:
        """Whole entries completed by what was appended (and by `now`, for a trace that
        stopped growing)."""
        out: list[LogEntry] = []
        now_ns = int(now * 1e9)
        records = self.follower.read(budget)
        self._read_any = bool(records)
        for record in records:
            self._last_end = record.end
            if self._docker:
                parsed = decode(record)
                if parsed is None:
                    self.undecodable += 1
                    continue
                joined = self._joiner.push(parsed)
                if joined is None:
                    continue
                line = Line(joined.ts_ns, joined.text, joined.start, joined.end)
                stream = joined.stream
            else:
                text = record.line.decode("utf-8", "replace").removesuffix("\r")
                line, stream = Line(now_ns, text, record.start, record.end), ""
            done = self._merger(stream).push(line, now)
            if done is not None:
                out.append(self._entry(done, stream))
        stopped = (  # read to its end, a container that stopped: nothing can continue
            not records
            and self._container is not None
            and any(m.pending_start() is not None for m in self._mergers.values())
            and not self._container.running()
        )
        for stream, merger in self._mergers.items():
            due = merger.flush_due(now, at_once=stopped)
            if due is not None:
                out.append(self._entry(due, stream))
        out.sort(key=lambda e: self.follower.order(e.end) if e.end else (0, 0))
        return out

    def _entry(self, line: Line, stream: str) -> LogEntry:
        labels = self.labels if not stream else tuple(sorted((*self.labels, ("stream", stream))))
        return LogEntry(labels, line.ts_ns, line.text, {}, line.end)

    def active(self) -> bool:
        """Whether the last read found records or an entry is still unfinished: the file's
        next round should not be put off."""
        return self._read_any or self.safe_position() != self._last_end

    def safe_position(self) -> Position | None:
        """Up to where everything read has become an entry: the start of the oldest
        unfinished one (a Docker part, a trace still growing), else the end of what was read."""
        pending = [*self._joiner.pending_starts()]
        pending += [p for m in self._mergers.values() if (p := m.pending_start()) is not None]
        if pending:
            return min(pending, key=self.follower.order)
        return self._last_end

    def rewind(self) -> None:
        self.follower.rewind()
        self._joiner = PartialJoiner()
        self._mergers.clear()
        self._last_end = self.follower.committed

    def close(self) -> None:
        self.follower.close()


def docker_logs(containers_dir: Path) -> dict[str, Path]:
    """`<id>/<id>-json.log` of every container, by path."""
    found = {}
    for path in glob.glob(str(containers_dir / "*" / "*-json.log")):
        found[path] = Path(path)
    return found


def docker_labels(path: Path, host: str) -> StreamLabels:
    info = container_info(path.parent)
    return stream_labels(
        host=host, container=info.name, image=info.image, service_name=info.service
    )


def glob_files(patterns: tuple[str, ...]) -> dict[str, Path]:
    found = {}
    for pattern in patterns:
        for path in glob.glob(pattern):
            if os.path.isfile(path):
                found[path] = Path(path)
    return found


def file_labels(path: Path, host: str) -> StreamLabels:
    stem = path.name.split(".", 1)[0] or path.name
    return stream_labels(host=host, filename=str(path), service_name=stem)
