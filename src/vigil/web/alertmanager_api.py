"""Alertmanager's API v2 (`/api/v2/*`): the JSON shapes, status codes and error bodies that
Prometheus, amtool and Grafana expect from Alertmanager 0.25, over vigil's alerting core.

Thin by design: it parses requests, calls the core (`AlertmanagerCore`), renders results.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from vigil.alerting import route as routing
from vigil.alerting.marker import AlertStatus
from vigil.config.alertmanager import Receiver
from vigil.config.matchers import MatcherParseError, api_matcher_op, new_matcher, parse_matchers
from vigil.model.alert import Alert, make_alert
from vigil.model.labels import Labels
from vigil.model.matchers import Matcher, MatchType
from vigil.model.regex import Anchor, Regex, RegexError
from vigil.web.body import JSONBodyError, read_json

# Alertmanager sets no limit; 100,000 alerts of ordinary size are ~30 MB.
MAX_BODY_BYTES = 64 << 20
SLICE = 2000
"""Alerts a request handles between two turns of the event loop, so that a listing or a
POST of 100,000 alerts leaves `/-/healthy` and every other request answering meanwhile."""
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
ALERTMANAGER_API_VERSION = "0.25.0"
"""The Alertmanager release whose API vigil serves; amtool warns when its own version differs."""
_GO_ZERO_TIME = datetime(1, 1, 1)
_EPOCH = date(1970, 1, 1)
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$"
)


@dataclass(frozen=True, slots=True)
class AlertGroupView:
    """One aggregation group; `receivers[i]` are the receivers of `alerts[i]`, sorted."""

    labels: Labels
    receiver: str
    alerts: tuple[Alert, ...]
    receivers: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class SilenceView:
    """A silence as the API shows and accepts it; `id` is "" for a new one."""

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float
    created_by: str
    comment: str
    updated_at: float = 0.0
    state: str = ""


class SilenceError(ValueError):
    """A silence the core refuses; `not_found` when the id names none."""

    def __init__(self, message: str, *, not_found: bool = False) -> None:
        super().__init__(message)
        self.not_found = not_found


class AlertmanagerCore(Protocol):
    """What the API reads and changes; `vigil.cmd.alertmanager_service.AlertmanagerService` is one."""

    def now(self) -> float: ...

    @property
    def resolve_timeout(self) -> float: ...

    def put_alerts(self, alerts: Sequence[Alert]) -> list[str]:
        """Store the valid alerts; Alertmanager's message for each invalid one."""
        ...

    def alerts(self) -> list[Alert]: ...

    def alert_status(self, alert: Alert) -> AlertStatus: ...

    def receivers_for(self, alert: Alert) -> list[str]: ...

    def alert_groups(self) -> list[AlertGroupView]: ...

    def list_silences(self) -> list[SilenceView]: ...

    def get_silence(self, silence_id: str) -> SilenceView | None: ...

    def set_silence(self, silence: SilenceView) -> str: ...

    def expire_silence(self, silence_id: str) -> None: ...

    def receiver_names(self) -> list[str]: ...

    def sends_nowhere(self) -> bool:
        """Every receiver the route can end at has no integration (config.Config.sends_nowhere)."""
        ...

    def route_tree(self) -> routing.Route:
        """The root of the route tree in force."""
        ...

    def receivers(self) -> Sequence[Receiver]: ...

    async def test_receiver(self, name: str) -> list[tuple[str, bool, str]]:
        """Send a test notification through receiver `name`: (integration, ok, reply)."""
        ...

    def status_config(self) -> str: ...

    @property
    def started_at(self) -> float: ...


# --------------------------------------------------------------------------- formatting


@functools.lru_cache(maxsize=1 << 12)
def format_time(t: float) -> str:
    """strfmt.DateTime as go-swagger writes it: RFC 3339 with milliseconds, in UTC. Cached:
    the alerts of one POST or one rule evaluation share their update and end times."""
    seconds, millis = divmod(round(t * 1000), 1000)
    days, second = divmod(seconds, 86400)
    hour, second = divmod(second, 3600)
    minute, second = divmod(second, 60)
    return f"{_date(days)}T{hour:02d}:{minute:02d}:{second:02d}.{millis:03d}Z"


@functools.lru_cache(maxsize=1024)
def _date(days: int) -> str:
    """The date `days` after the epoch; a response's times span few days."""
    return (_EPOCH + timedelta(days=days)).strftime("%Y-%m-%d")


def parse_time(text: str, field: str) -> float:
    """An RFC 3339 time with any fraction and offset, as seconds since the epoch."""
    found = _RFC3339.match(text)
    if found is None:
        raise ValueError(f'{field} in body must be of type date-time: "{text}"')
    year, month, day, hour, minute, second, fraction, zone = found.groups()
    try:
        base = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
    except ValueError:
        raise ValueError(f'{field} in body must be of type date-time: "{text}"') from None
    offset = 0
    if zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        offset = sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    if base == _GO_ZERO_TIME and not offset and not (fraction or "").strip("0"):
        return 0.0  # Go's zero time: "unset" (amtool sends it for an alert without an end)
    seconds = (base - datetime(1970, 1, 1)).total_seconds() - offset
    return seconds + (float("0." + fraction) if fraction else 0.0)


def alert_json(alert: Alert, status: AlertStatus, receivers: Iterable[str]) -> dict[str, Any]:
    """models.GettableAlert, keys in Alertmanager's order."""
    body: dict[str, Any] = {
        "annotations": dict(alert.annotations),
        "endsAt": format_time(alert.ends_at),
        "fingerprint": f"{alert.fingerprint:016x}",
        "receivers": [{"name": name} for name in receivers],
        "startsAt": format_time(alert.starts_at),
        "status": {
            "inhibitedBy": list(status.inhibited_by),
            "silencedBy": list(status.silenced_by),
            "state": status.state,
        },
        "updatedAt": format_time(alert.updated_at),
    }
    if alert.generator_url:
        body["generatorURL"] = alert.generator_url
    body["labels"] = dict(alert.labels)
    return body


def matcher_json(matcher: Matcher) -> dict[str, Any]:
    return {
        "isEqual": matcher.type in (MatchType.EQUAL, MatchType.REGEX),
        "isRegex": matcher.type in (MatchType.REGEX, MatchType.NOT_REGEX),
        "name": matcher.name,
        "value": matcher.value,
    }


def silence_json(silence: SilenceView) -> dict[str, Any]:
    """models.GettableSilence, keys in Alertmanager's order."""
    return {
        "id": silence.id,
        "status": {"state": silence.state},
        "updatedAt": format_time(silence.updated_at),
        "comment": silence.comment,
        "createdBy": silence.created_by,
        "endsAt": format_time(silence.ends_at),
        "matchers": [matcher_json(m) for m in silence.matchers],
        "startsAt": format_time(silence.starts_at),
    }


def sort_silences(silences: Iterable[SilenceView]) -> list[SilenceView]:
    """Alertmanager's order: active by end, then pending by start, then expired latest first."""
    rank = {"active": 0, "pending": 1, "expired": 2}

    def key(s: SilenceView) -> tuple[int, float]:
        if s.state == "active":
            return (0, s.ends_at)
        if s.state == "pending":
            return (1, s.starts_at)
        return (rank.get(s.state, 2), -s.ends_at)

    return sorted(silences, key=key)


def _fingerprint_of(alert: Alert) -> int:
    return alert.fingerprint


def _json_array(chunks: Iterable[bytes]) -> Response:
    """A JSON array from the rendered items of its slices (each without its brackets)."""
    body = b"[" + b",".join(chunk for chunk in chunks if chunk) + b"]"
    return Response(body, media_type="application/json")


# --------------------------------------------------------------------------- parsing


class _BadRequest(Exception):
    def __init__(self, body: Any, status: int = 400) -> None:
        super().__init__(str(body))
        self.body = body
        self.status = status


def _swagger_error(code: int, message: str, status: int) -> _BadRequest:
    return _BadRequest({"code": code, "message": message}, status)


async def _json_body(request: Request, what: str) -> Any:
    try:
        body = await read_json(request, MAX_BODY_BYTES)
    except JSONBodyError as err:
        message = f'parsing {what} body from "" failed, because {err.reason}'
        raise _swagger_error(err.status, message, err.status) from None
    if body is None:
        raise _swagger_error(602, f"{what} in body is required", 422)
    return body


def _interned_labels(items: tuple[tuple[str, Any], ...]) -> Labels:
    """The Labels of a JSON object's items, or ValueError when a value is not a string.

    Wrapped in LRU caches below: a sender resends the same label sets (Prometheus every
    evaluation), so a hit costs one hash of the items and every resend of a set shares one
    Labels object and its strings. A hit implies string values: no other JSON value equals
    a string."""
    for _, value in items:
        if not isinstance(value, str):
            raise ValueError("not a map of strings")
    return Labels(sorted(items))


_alert_labels = functools.lru_cache(maxsize=1 << 16)(_interned_labels)
_alert_annotations = functools.lru_cache(maxsize=1 << 14)(_interned_labels)
_NO_LABELS = Labels()


def _labels_field(
    item: dict[str, Any],
    key: str,
    index: int,
    intern: Callable[[tuple[tuple[str, Any], ...]], Labels],
) -> Labels:
    value = item.get(key)
    if value is None:
        return _NO_LABELS
    if isinstance(value, dict):
        try:
            return intern(tuple(value.items()))
        except (ValueError, TypeError):  # TypeError: an unhashable value, a list or map
            pass
    raise _swagger_error(400, f"[{index}].{key} in body must be a map of strings", 400)


def _optional_time(item: dict[str, Any], key: str, index: int | None = None) -> float:
    """The time under `key`, 0.0 when absent; `index` is the item's place in an array."""
    value = item.get(key)
    if value is None or value == "":
        return 0.0
    field = key if index is None else f"[{index}].{key}"
    if not isinstance(value, str):
        raise _swagger_error(602, f"{field} in body must be of type date-time", 422)
    try:
        return _cached_time(value)
    except ValueError:
        try:
            return parse_time(value, field)  # raises again, naming the field
        except ValueError as err:
            raise _swagger_error(602, str(err), 422) from None


@functools.lru_cache(maxsize=1 << 12)
def _cached_time(text: str) -> float:
    """Prometheus resends each firing alert with the same `startsAt`."""
    return parse_time(text, "")


def postable_alerts(body: Any, first: int = 0) -> list[Alert]:
    """The alerts of a POST as sent (unset times stay 0.0: the store applies Alertmanager's
    defaults and validation); a body of the wrong shape is a swagger-style error. `first` is
    the index of the body's first item in the whole POST, when the body is a slice of it."""
    if not isinstance(body, list):
        raise _swagger_error(400, "alerts in body must be of type array", 400)
    out: list[Alert] = []
    append = out.append
    for index, item in enumerate(body, first):
        if not isinstance(item, dict):
            raise _swagger_error(400, f"[{index}] in body must be of type object", 400)
        if "labels" not in item:
            raise _swagger_error(602, f"[{index}].labels in body is required", 422)
        url = item.get("generatorURL") or ""
        if not isinstance(url, str):
            raise _swagger_error(602, f"[{index}].generatorURL in body must be of type uri", 422)
        append(
            make_alert(
                _labels_field(item, "labels", index, _alert_labels),
                _labels_field(item, "annotations", index, _alert_annotations),
                _optional_time(item, "startsAt", index),
                _optional_time(item, "endsAt", index),
                url,
                0.0,
                False,
            )
        )
    return out


def _filters(request: Request) -> tuple[Matcher, ...]:
    matchers: list[Matcher] = []
    for text in request.query_params.getlist("filter"):
        try:
            matchers.extend(parse_matchers(text))
        except MatcherParseError as err:
            raise _BadRequest(str(err)) from None
    return tuple(matchers)


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name, "true").lower()
    if value not in ("true", "false", "1", "0"):
        raise _swagger_error(
            601, f'{name} in query must be of type boolean: "{request.query_params[name]}"', 400
        )
    return value in ("true", "1")


def _receiver_regex(request: Request) -> Regex | None:
    text = request.query_params.get("receiver")
    if not text:
        return None
    try:
        return Regex(text, Anchor.ALERTMANAGER)
    except RegexError as err:
        raise _BadRequest(f"failed to parse receiver param: {err}") from None


def postable_silence(body: Any, now: float) -> SilenceView:
    """models.PostableSilence, validated the way Alertmanager 0.25 does before storing it."""
    if not isinstance(body, dict):
        raise _swagger_error(400, "silence in body must be of type object", 400)
    for key in ("matchers", "startsAt", "endsAt", "createdBy", "comment"):
        if key not in body:
            raise _swagger_error(602, f"{key} in body is required", 422)
    raw_matchers = body["matchers"]
    if not isinstance(raw_matchers, list):
        raise _swagger_error(400, "matchers in body must be of type array", 400)
    matchers = tuple(_silence_matcher(m) for m in raw_matchers)
    starts = _optional_time(body, "startsAt")
    ends = _optional_time(body, "endsAt")
    if starts >= ends:
        raise _BadRequest("Failed to create silence: start time must be before end time")
    if ends < now:
        raise _BadRequest("Failed to create silence: end time can't be in the past")
    silence_id = body.get("id") or ""
    if not isinstance(silence_id, str):
        raise _swagger_error(400, "id in body must be of type string", 400)
    return SilenceView(
        id=silence_id,
        matchers=matchers,
        starts_at=starts,
        ends_at=ends,
        created_by=str(body["createdBy"]),
        comment=str(body["comment"]),
    )


def _silence_matcher(raw: Any) -> Matcher:
    if not isinstance(raw, dict) or "name" not in raw or "value" not in raw:
        raise _swagger_error(602, "matchers in body must have name, value and isRegex", 422)
    name, value = raw["name"], raw["value"]
    op = api_matcher_op(bool(raw.get("isRegex", False)), bool(raw.get("isEqual", True)))
    if not isinstance(name, str) or not isinstance(value, str):
        raise _swagger_error(602, "matcher name and value must be strings", 422)
    try:
        return new_matcher(name, op, value)
    except MatcherParseError as err:
        raise _BadRequest(f"silence invalid: {err}") from None


def silence_matches_filter(silence: SilenceView, matchers: Sequence[Matcher]) -> bool:
    """Alertmanager's filter on silences: the filter must match the label set formed by the
    silence's equality matchers."""
    labels = Labels.from_dict(
        {m.name: m.value for m in silence.matchers if m.type is MatchType.EQUAL}
    )
    return all(m.matches_labels(labels) for m in matchers)


# --------------------------------------------------------------------------- routes


@dataclass(frozen=True, slots=True)
class BuildInfo:
    version: str
    revision: str = ""
    branch: str = ""
    build_user: str = ""
    build_date: str = ""
    go_version: str = ""


class AlertmanagerAPI:
    """The `/api/v2` routes plus Alertmanager's `/-/healthy`, `/-/ready` and `/-/reload`."""

    def __init__(
        self,
        core: AlertmanagerCore,
        build: BuildInfo,
        reload: Callable[[], Awaitable[bool]] | None = None,
        ready: Callable[[], bool] = lambda: True,
        prefix: str = "",
    ) -> None:
        self._core = core
        self._build = build
        self._reload = reload
        self._ready = ready
        self._prefix = prefix

    def routes(self, lifecycle: bool = True) -> list[BaseRoute]:
        p = self._prefix
        routes: list[BaseRoute] = [
            Route(f"{p}/api/v2/alerts", self._wrap(self.get_alerts), methods=["GET"]),
            Route(f"{p}/api/v2/alerts", self._wrap(self.post_alerts), methods=["POST"]),
            Route(f"{p}/api/v2/alerts/groups", self._wrap(self.get_groups), methods=["GET"]),
            Route(f"{p}/api/v2/silences", self._wrap(self.get_silences), methods=["GET"]),
            Route(f"{p}/api/v2/silences", self._wrap(self.post_silences), methods=["POST"]),
            Route(f"{p}/api/v2/silence/{{id}}", self._wrap(self.get_silence), methods=["GET"]),
            Route(
                f"{p}/api/v2/silence/{{id}}", self._wrap(self.delete_silence), methods=["DELETE"]
            ),
            Route(f"{p}/api/v2/status", self._wrap(self.get_status), methods=["GET"]),
            Route(f"{p}/api/v2/receivers", self._wrap(self.get_receivers), methods=["GET"]),
            # vigil's own, outside Alertmanager's namespace: the UI's "test this receiver".
            Route(
                f"{p}/api/vigil/v1/receivers/{{name}}/test",
                self._wrap(self.test_receiver),
                methods=["POST"],
            ),
            # ... and whether any notification can leave at all, for the Alerts page's warning.
            Route(f"{p}/api/vigil/v1/delivery", self._wrap(self.get_delivery), methods=["GET"]),
        ]
        if p or lifecycle:
            routes += [
                Route(f"{p}/-/healthy", self.healthy, methods=["GET", "HEAD"]),
                Route(f"{p}/-/ready", self.ready, methods=["GET", "HEAD"]),
            ]
        if lifecycle:
            routes.append(Route(f"{p}/-/reload", self.reload, methods=["POST", "PUT"]))
        return routes

    @staticmethod
    def _wrap(
        handler: Callable[[Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except _BadRequest as err:
                return JSONResponse(err.body, status_code=err.status)

        return endpoint

    # ---- alerts

    async def get_alerts(self, request: Request) -> Response:
        query = _AlertQuery.parse(request, with_unprocessed=True)
        now = self._core.now()
        # By fingerprint: zero-padded hex sorts as the integers do.
        alerts = sorted(self._core.alerts(), key=_fingerprint_of)
        chunks: list[bytes] = []
        for start in range(0, len(alerts), SLICE):
            if start:
                await asyncio.sleep(0)
            out: list[dict[str, Any]] = []
            for alert in alerts[start : start + SLICE]:
                if not query.matches(alert, now):
                    continue
                receivers = self._core.receivers_for(alert)
                if query.receiver is not None and not any(
                    query.receiver.matches(r) for r in receivers
                ):
                    continue
                status = self._core.alert_status(alert)
                if query.shows(status):
                    out.append(alert_json(alert, status, receivers))
            chunks.append(orjson.dumps(out)[1:-1])
        return _json_array(chunks)

    async def post_alerts(self, request: Request) -> Response:
        body = await _json_body(request, "alerts")
        if not isinstance(body, list):
            postable_alerts(body)  # raises: not an array
        alerts: list[Alert] = []
        for start in range(0, len(body), SLICE):
            if start:
                await asyncio.sleep(0)
            alerts += postable_alerts(body[start : start + SLICE], start)
        del body
        errors: list[str] = []
        for start in range(0, len(alerts), SLICE):
            await asyncio.sleep(0)
            errors += self._core.put_alerts(alerts[start : start + SLICE])
        if errors:
            return JSONResponse("; ".join(errors), status_code=400)
        return Response(status_code=200)

    async def get_groups(self, request: Request) -> Response:
        query = _AlertQuery.parse(request, with_unprocessed=False)
        now = self._core.now()
        chunks: list[bytes] = []
        out: list[dict[str, Any]] = []
        done = 0  # alerts handled since the event loop last ran
        for group in self._core.alert_groups():
            if query.receiver is not None and not query.receiver.matches(group.receiver):
                continue
            if done >= SLICE:
                chunks.append(orjson.dumps(out)[1:-1])
                out, done = [], 0
                await asyncio.sleep(0)
            done += len(group.alerts)
            alerts = []
            for alert, receivers in zip(group.alerts, group.receivers, strict=True):
                if not query.matches(alert, now):
                    continue
                status = self._core.alert_status(alert)
                if query.shows(status):
                    alerts.append(alert_json(alert, status, receivers))
            if alerts:
                out.append(
                    {
                        "alerts": alerts,
                        "labels": dict(group.labels),
                        "receiver": {"name": group.receiver},
                    }
                )
        chunks.append(orjson.dumps(out)[1:-1])
        return _json_array(chunks)

    # ---- silences

    async def get_silences(self, request: Request) -> Response:
        matchers = _filters(request)
        silences = [s for s in self._core.list_silences() if silence_matches_filter(s, matchers)]
        return JSONResponse([silence_json(s) for s in sort_silences(silences)])

    async def post_silences(self, request: Request) -> Response:
        body = await _json_body(request, "silence")
        silence = postable_silence(body, self._core.now())
        try:
            silence_id = self._core.set_silence(silence)
        except SilenceError as err:
            status = 404 if err.not_found else 400
            return JSONResponse(str(err), status_code=status)
        return JSONResponse({"silenceID": silence_id})

    async def get_silence(self, request: Request) -> Response:
        silence_id = self._silence_id(request)
        found = self._core.get_silence(silence_id)
        if found is None:
            return Response(status_code=404)
        return JSONResponse(silence_json(found))

    async def delete_silence(self, request: Request) -> Response:
        silence_id = self._silence_id(request)
        try:
            self._core.expire_silence(silence_id)
        except SilenceError as err:
            return JSONResponse(str(err), status_code=500)  # Alertmanager 0.25: 500 either way
        return Response(status_code=200)

    @staticmethod
    def _silence_id(request: Request) -> str:
        silence_id = str(request.path_params["id"])
        if not _UUID.match(silence_id):
            raise _swagger_error(
                601, f'silenceID in path must be of type uuid: "{silence_id}"', 422
            )
        return silence_id

    # ---- status

    async def get_status(self, _: Request) -> Response:
        build = self._build
        return JSONResponse(
            {
                "cluster": {"peers": [], "status": "disabled"},
                "config": {"original": self._core.status_config()},
                "uptime": format_time(self._core.started_at),
                "versionInfo": {
                    "branch": build.branch,
                    "buildDate": build.build_date,
                    "buildUser": build.build_user,
                    "goVersion": build.go_version,
                    "revision": build.revision,
                    "version": build.version,
                },
            }
        )

    async def get_receivers(self, _: Request) -> Response:
        return JSONResponse([{"name": name} for name in self._core.receiver_names()])

    async def get_delivery(self, _: Request) -> Response:
        """Where alerts go: the route tree with its options in force and each receiver's
        integrations, as the Status page draws them (Alertmanager's routing tree)."""
        receivers = [
            {"name": r.name, "integrations": [i.kind for i in r.integrations]}
            for r in self._core.receivers()
        ]
        return JSONResponse(
            {
                "sendsNowhere": self._core.sends_nowhere(),
                "route": _route_json(self._core.route_tree()),
                "receivers": receivers,
            }
        )

    async def test_receiver(self, request: Request) -> Response:
        name = str(request.path_params["name"])
        if name not in self._core.receiver_names():
            return JSONResponse(f'receiver "{name}" does not exist', status_code=404)
        results = await self._core.test_receiver(name)
        body = [{"integration": i, "ok": ok, "reply": reply} for i, ok, reply in results]
        ok = bool(results) and all(ok for _, ok, _ in results)
        return JSONResponse(body, status_code=200 if ok else 502)

    # ---- lifecycle

    async def healthy(self, _: Request) -> Response:
        return PlainTextResponse("OK")

    async def ready(self, _: Request) -> Response:
        if self._ready():
            return PlainTextResponse("OK")
        return PlainTextResponse("Service Unavailable", status_code=503)

    async def reload(self, _: Request) -> Response:
        if self._reload is None:
            return PlainTextResponse("Lifecycle API is not enabled.", status_code=403)
        if await self._reload():
            return Response(status_code=200)
        return PlainTextResponse("failed to reload config", status_code=500)


def _route_json(route: routing.Route) -> dict[str, Any]:
    options = route.options
    return {
        "receiver": options.receiver,
        "groupBy": ["..."] if options.group_by_all else sorted(options.group_by),
        "groupWait": str(options.group_wait),
        "groupInterval": str(options.group_interval),
        "repeatInterval": str(options.repeat_interval),
        "matchers": [str(m) for m in route.matchers],
        "continue": route.continue_matching,
        "muteTimeIntervals": list(options.mute_time_intervals),
        "activeTimeIntervals": list(options.active_time_intervals),
        "routes": [_route_json(child) for child in route.routes],
    }


@dataclass(frozen=True, slots=True)
class _AlertQuery:
    """The filters of `GET /api/v2/alerts` and `/alerts/groups` (the groups endpoint has no
    `unprocessed` flag: it always shows them)."""

    matchers: tuple[Matcher, ...]
    receiver: Regex | None
    active: bool
    silenced: bool
    inhibited: bool
    unprocessed: bool

    @classmethod
    def parse(cls, request: Request, *, with_unprocessed: bool) -> _AlertQuery:
        return cls(
            _filters(request),
            _receiver_regex(request),
            _flag(request, "active"),
            _flag(request, "silenced"),
            _flag(request, "inhibited"),
            _flag(request, "unprocessed") if with_unprocessed else True,
        )

    def matches(self, alert: Alert, now: float) -> bool:
        """Still firing at `now`, and every filter matcher matches its labels."""
        if alert.resolved_at(now):
            return False
        return not self.matchers or all(m.matches_labels(alert.labels) for m in self.matchers)

    def shows(self, status: AlertStatus) -> bool:
        """Alertmanager's alertFilter on the marker's state."""
        if not self.unprocessed and status.state == "unprocessed":
            return False
        if not self.active and status.state == "active":
            return False
        if not self.silenced and status.silenced_by:
            return False
        return self.inhibited or not status.inhibited_by
