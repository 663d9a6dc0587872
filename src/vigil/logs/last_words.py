"""A dying container's last words: the last lines it logged before it died, added to its
death alert when the notification goes out (an `alerting.annotate` annotator), so the
message itself shows the heap growing or the exception, without opening anything.

Lines come from the log store's streams with `container="<name>"` (what `vigil agent` and
the server's own collection label container logs with), in the `lookback_s` before the
death (the time the agent recorded, else the alert's start), newest `lines` at most,
each cut to `line_chars`, all to `max_bytes`; colour codes and control characters are
removed and code fences defused, so a template can put them in a code block safely. Beside
them, `logs_url` opens the Logs page on that container over the minutes before the death.
"""

from __future__ import annotations

import re
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vigil.alerting.annotate import AnnotationUnavailable
from vigil.logs._api import LogQueryable, SelectHints
from vigil.model import Matcher
from vigil.model.alert import Alert
from vigil.tsdb import CorruptDataError, StorageNotReady

CONTAINER_DEATH_ALERTS = frozenset(
    {"ContainerOomKilled", "ContainerExitedNonZero", "ContainerRestartLoop"}
)
ANNOTATION = "last_lines"
LINK_ANNOTATION = "logs_url"

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class LastWordsOptions:
    lines: int = 50
    line_chars: int = 300
    max_bytes: int = 3000
    lookback_s: float = 3600.0
    link_before_s: float = 900.0  # the Logs page link's window: this long before the death
    link_after_s: float = 60.0  # ... to this long after it (a restart's first lines)


def readable(line: str, limit: int) -> str:
    """One log line as a message can show it."""
    text = _CONTROL.sub("", _ANSI.sub("", line.replace("\t", "    "))).replace("```", "'''")
    return text if len(text) <= limit else text[: limit - 1] + "…"


class LastWords:
    def __init__(
        self,
        logs: LogQueryable,
        death_time: Callable[[Alert], float | None],
        options: LastWordsOptions = LastWordsOptions(),
        external_url: str = "",
    ) -> None:
        self._logs = logs
        self._death_time = death_time
        self._options = options
        self._external_url = external_url.rstrip("/")

    def __call__(self, alert: Alert) -> Mapping[str, str]:
        name = alert.labels.get("name")
        if alert.name not in CONTAINER_DEATH_ALERTS or not name:
            return {}
        died = self._death_time(alert) or alert.starts_at
        text = self.excerpt(name, died)
        return {ANNOTATION: text, LINK_ANNOTATION: self.logs_url(name, died)} if text else {}

    def logs_url(self, container: str, died: float) -> str:
        """The Logs page on the container's lines around `died` (Unix seconds)."""
        from vigil.logs.logql.format import go_quote  # with LogQL's AST: by the first death

        o = self._options
        query = urllib.parse.urlencode(
            {
                "query": f"{{container={go_quote(container)}}}",
                "from": int((died - o.link_before_s) * 1000),
                "to": int((died + o.link_after_s) * 1000),
            }
        )
        return f"{self._external_url}/logs?{query}"

    def excerpt(self, container: str, died: float) -> str:
        """The container's last lines up to `died` (Unix seconds), oldest first, one per
        line as `HH:MM:SS line` (UTC); empty when it logged nothing in the lookback."""
        o = self._options
        end_ns = int(died * 1e9)
        try:
            querier = self._logs.querier(int(end_ns - o.lookback_s * 1e9), end_ns)
            try:
                stamps: list[npt.NDArray[np.int64]] = []
                lines: list[bytes] = []
                for batch in querier.select(
                    [Matcher.of("container", "=", container)], SelectHints(backward=True)
                ):
                    first = max(0, len(batch) - o.lines)
                    stamps.append(batch.timestamps[first:])
                    lines.extend(batch.lines[i] for i in range(first, len(batch)))
            finally:
                querier.close()
        except (OSError, StorageNotReady, CorruptDataError) as err:
            raise AnnotationUnavailable(f"cannot read the log store: {err}") from err
        if not lines:
            return ""
        t = np.concatenate(stamps)
        newest = np.argsort(t, kind="stable")[-o.lines :]
        rows: list[str] = []
        size = 0
        for i in newest[::-1].tolist():
            when = time.strftime("%H:%M:%S", time.gmtime(int(t[i]) // 1_000_000_000))
            row = f"{when} {readable(lines[i].decode('utf-8', 'replace'), o.line_chars)}"
            size += len(row.encode()) + 1
            if size > o.max_bytes and rows:
                break
            rows.append(row)
        return "\n".join(reversed(rows))
