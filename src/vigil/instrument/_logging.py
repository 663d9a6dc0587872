"""Log records of a request carry its context (`record.mdc`), and a formatter writes them
as logstash-logback-encoder's LogstashEncoder does, so LogQL's `| json` reads a Python
service's lines with the same field names as a Spring Boot one's."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, tzinfo
from typing import Any

from vigil.instrument._context import current

# Logback's levels (Level.toInt) by Python's; CRITICAL has no Logback twin and reads as ERROR.
_LEVELS = ((40, "ERROR", 40000), (30, "WARN", 30000), (20, "INFO", 20000), (10, "DEBUG", 10000))
_STANDARD = ("@timestamp", "@version", "message", "logger_name", "thread_name", "level")


def install_record_factory() -> None:
    """Every record gets `mdc`: the context of the request it was written in, taken when
    it is created (a QueueHandler's thread formats it later, outside the request)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "vigil_mdc", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        context = current()
        record.mdc = {} if context is None else context.mdc()
        return record

    factory.vigil_mdc = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


class LogstashFormatter(logging.Formatter):
    """One JSON object a line with LogstashEncoder's fields: `@timestamp`, `@version`,
    `message`, `logger_name`, `thread_name`, `level` (Logback's names: WARN, not WARNING),
    `level_value`, `stack_trace` with an exception, then the request's context (MDC)."""

    def __init__(self, timezone: tzinfo | None = None) -> None:
        super().__init__()
        self._timezone = timezone

    def format(self, record: logging.LogRecord) -> str:
        level, level_value = _logback_level(record.levelno)
        out: dict[str, object] = {
            "@timestamp": self._timestamp(record),
            "@version": "1",
            "message": record.getMessage(),
            "logger_name": record.name,
            "thread_name": record.threadName,
            "level": level,
            "level_value": level_value,
        }
        trace = self._stack_trace(record)
        if trace:
            out["stack_trace"] = trace
        mdc = getattr(record, "mdc", None)
        if mdc is None:
            context = current()
            mdc = {} if context is None else context.mdc()
        for name, value in mdc.items():
            if name not in out and name not in _STANDARD:
                out[name] = value
        return json.dumps(out, ensure_ascii=False, default=str, separators=(",", ":"))

    def _timestamp(self, record: logging.LogRecord) -> str:
        """Java's ISO_OFFSET_DATE_TIME at Logback's millisecond: the fraction without its
        trailing zeros (none at all on a whole second), `Z` for UTC."""
        when = datetime.fromtimestamp(int(record.created), self._timezone or UTC)
        if self._timezone is None:
            when = when.astimezone()
        text = when.strftime("%Y-%m-%dT%H:%M:%S")
        millis = int(record.msecs)
        if millis:
            text += f".{millis:03d}".rstrip("0")
        offset = when.utcoffset()
        if not offset:
            return text + "Z"
        return text + when.strftime("%z")[:3] + ":" + when.strftime("%z")[3:]

    def _stack_trace(self, record: logging.LogRecord) -> str:
        parts = []
        if record.exc_info:
            parts.append(self.formatException(record.exc_info))
        elif record.exc_text:
            parts.append(record.exc_text)
        if record.stack_info:
            parts.append(self.formatStack(record.stack_info))
        return "\n".join(parts) + "\n" if parts else ""


def _logback_level(levelno: int) -> tuple[str, int]:
    for floor, name, value in _LEVELS:
        if levelno >= floor:
            return name, value
    return "TRACE", 5000
