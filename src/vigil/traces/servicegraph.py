"""The service graph: Tempo metrics-generator's edge series between services, what Grafana's
Tempo data source draws as its service map (it queries these names).

A request is a client span (kind CLIENT, or PRODUCER for a messaging system) and the server
span (SERVER, or CONSUMER) whose parent it is, in the same trace. Halves wait in a bounded
store (`max_items`, 10 000) until their peer arrives, possibly in a later batch, or until
`wait_s` (10 s) passes on the injected clock. Series, labelled `client`, `server` and
`connection_type` (`""`, `messaging_system`, `database`, `virtual_node`):

- `traces_service_graph_request_total`, `traces_service_graph_request_failed_total` (either
  half has status ERROR), `traces_service_graph_request_server_seconds_*` and
  `_client_seconds_*` (each half's duration; Tempo's buckets, 0.1 s doubling to 12.8 s);
- a client span naming a database (`db.system`/`db.system.name` or `db.name`/`db.namespace`)
  is an edge at once, `connection_type="database"`, to `peer.service`, `server.address`,
  `network.peer.address[:port]`, the database name, or else its system;
- a root server span is an edge from the virtual node `user`; a client half that expires
  with `peer.service` or `server.address` is an edge to that virtual node; both
  `connection_type="virtual_node"`;
- other expired halves count in `traces_service_graph_unpaired_spans_total`, halves the
  full store refuses in `traces_service_graph_dropped_spans_total` (the known side's label
  set, the other empty).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vigil.traces._api import (
    KIND_CLIENT,
    KIND_CONSUMER,
    KIND_PRODUCER,
    KIND_SERVER,
    STATUS_ERROR,
    AttrValue,
)
from vigil.traces.spanmetrics_guards import GuardedSpans
from vigil.traces.spanmetrics_series import (
    GeneratedCounter,
    GeneratedHistogram,
    LabelValues,
    SeriesSet,
)

REQUESTS = "traces_service_graph_request_total"
FAILED = "traces_service_graph_request_failed_total"
SERVER_SECONDS = "traces_service_graph_request_server_seconds"
CLIENT_SECONDS = "traces_service_graph_request_client_seconds"
UNPAIRED = "traces_service_graph_unpaired_spans_total"
DROPPED = "traces_service_graph_dropped_spans_total"
LABEL_NAMES = ("client", "server", "connection_type")
EDGE_BUCKETS = tuple(0.1 * 2**i for i in range(8))
DEFAULT_WAIT_S = 10.0
DEFAULT_MAX_ITEMS = 10_000
MESSAGING, DATABASE, VIRTUAL_NODE = "messaging_system", "database", "virtual_node"
USER = "user"

_DB_NAME_KEYS = ("db.name", "db.namespace")
_DB_SYSTEM_KEYS = ("db.system", "db.system.name")
_PEER_KEYS = ("peer.service", "server.address")


@dataclass(slots=True)
class _Half:
    """One side of an edge, waiting for the other."""

    expires_s: float
    connection_type: str
    multiplier: float
    client: str = ""
    server: str = ""
    client_s: float = 0.0
    server_s: float = 0.0
    failed: bool = False
    peer: str = ""


@dataclass(slots=True)
class _Edges:
    """Completed edges of one batch, summed by label set in one go."""

    keys: dict[LabelValues, int]
    rows: list[int]
    client_s: list[float]
    server_s: list[float]
    failed: list[bool]
    weights: list[float]

    def add(
        self,
        key: LabelValues,
        client_s: float,
        server_s: float,
        failed: bool,
        weight: float,
    ) -> None:
        self.rows.append(self.keys.setdefault(key, len(self.keys)))
        self.client_s.append(client_s)
        self.server_s.append(server_s)
        self.failed.append(failed)
        self.weights.append(weight)

    def add_half(self, half: _Half) -> None:
        key = (half.client, half.server, half.connection_type)
        self.add(key, half.client_s, half.server_s, half.failed, half.multiplier)


class ServiceGraph:
    def __init__(self, wait_s: float = DEFAULT_WAIT_S, max_items: int = DEFAULT_MAX_ITEMS) -> None:
        self.wait_s = wait_s
        self.max_items = max_items
        self.requests = GeneratedCounter(REQUESTS, LABEL_NAMES)
        self.failed = GeneratedCounter(FAILED, LABEL_NAMES)
        self.server_seconds = GeneratedHistogram(SERVER_SECONDS, LABEL_NAMES, EDGE_BUCKETS)
        self.client_seconds = GeneratedHistogram(CLIENT_SECONDS, LABEL_NAMES, EDGE_BUCKETS)
        self.unpaired = GeneratedCounter(UNPAIRED, LABEL_NAMES)
        self.dropped = GeneratedCounter(DROPPED, LABEL_NAMES)
        self.series = SeriesSet(
            (
                self.requests,
                self.failed,
                self.server_seconds,
                self.client_seconds,
                self.unpaired,
                self.dropped,
            )
        )
        self._store: OrderedDict[bytes, _Half] = OrderedDict()

    def pending(self) -> int:
        return len(self._store)

    def observe(self, guarded: GuardedSpans, now_s: float, t_ms: int) -> None:
        spans = guarded.spans
        edges = _Edges({}, [], [], [], [], [])
        lost: list[tuple[LabelValues, str]] = []
        self._expire(now_s, edges, lost)
        picked = np.flatnonzero(
            np.isin(spans.kind, (KIND_CLIENT, KIND_PRODUCER, KIND_SERVER, KIND_CONSUMER))
        )
        if not len(picked):
            self._write(edges, lost, t_ms)
            return
        strings, trace_ids, span_ids, parents = (
            spans.strings,
            spans.trace_ids,
            spans.span_ids,
            spans.parent_ids,
        )
        peers = guarded.columns.text(_PEER_KEYS)[picked].tolist()
        databases = _databases(guarded, picked, peers)
        columns = zip(
            picked.tolist(),
            databases,
            peers,
            spans.kind[picked].tolist(),
            spans.service[picked].tolist(),
            (spans.duration_ns[picked] / 1e9).tolist(),
            (spans.status_code[picked] == STATUS_ERROR).tolist(),
            guarded.multiplier[picked].tolist(),
            (spans.parent_id_words()[picked] == 0).tolist(),
            strict=True,
        )
        for i, database, peer, kind, service_code, seconds, failed, multiplier, root in columns:
            service = strings[service_code]
            messaging = kind in (KIND_PRODUCER, KIND_CONSUMER)
            trace = trace_ids[16 * i : 16 * i + 16]
            if kind in (KIND_CLIENT, KIND_PRODUCER):
                if database is not None and not messaging:
                    edges.add((service, database, DATABASE), seconds, seconds, failed, multiplier)
                    continue
                key = trace + span_ids[8 * i : 8 * i + 8]
                half = self._half(key, now_s, messaging, multiplier)
                if half is None:
                    lost.append(((service, "", MESSAGING if messaging else ""), DROPPED))
                    continue
                half.client, half.client_s = service, seconds
                half.peer = peer or ""
            else:
                if root:
                    edges.add((USER, service, VIRTUAL_NODE), 0.0, seconds, failed, multiplier)
                    continue
                key = trace + parents[8 * i : 8 * i + 8]
                half = self._half(key, now_s, messaging, multiplier)
                if half is None:
                    lost.append((("", service, MESSAGING if messaging else ""), DROPPED))
                    continue
                half.server, half.server_s = service, seconds
            half.failed = half.failed or failed
            if half.client and half.server:
                del self._store[key]
                edges.add_half(half)
        self._write(edges, lost, t_ms)

    def expire(self, now_s: float, t_ms: int) -> None:
        """Settle halves whose wait is over (called at each collection)."""
        edges = _Edges({}, [], [], [], [], [])
        lost: list[tuple[LabelValues, str]] = []
        self._expire(now_s, edges, lost)
        self._write(edges, lost, t_ms)

    def _half(self, key: bytes, now_s: float, messaging: bool, multiplier: float) -> _Half | None:
        half = self._store.get(key)
        if half is not None:
            return half
        if len(self._store) >= self.max_items:
            return None
        half = self._store[key] = _Half(
            now_s + self.wait_s, MESSAGING if messaging else "", multiplier
        )
        return half

    def _expire(self, now_s: float, edges: _Edges, lost: list[tuple[LabelValues, str]]) -> None:
        store = self._store
        while store:
            half = next(iter(store.values()))
            if half.expires_s > now_s:
                return
            store.popitem(last=False)
            if half.client and half.peer:
                half.server, half.connection_type = half.peer, VIRTUAL_NODE
                edges.add_half(half)
            else:
                lost.append(((half.client, half.server, half.connection_type), UNPAIRED))

    def _write(self, edges: _Edges, lost: list[tuple[LabelValues, str]], t_ms: int) -> None:
        if edges.rows:
            keys = list(edges.keys)
            rows = np.asarray(edges.rows, dtype=np.intp)
            weights = np.asarray(edges.weights, dtype=np.float64)
            self.requests.add(keys, rows, weights, t_ms)
            failed = np.asarray(edges.failed, dtype=bool)
            if failed.any():
                failed_keys = [keys[r] for r in sorted(set(rows[failed].tolist()))]
                index = {key: n for n, key in enumerate(failed_keys)}
                failed_rows = np.fromiter(
                    (index[keys[r]] for r in rows[failed].tolist()), dtype=np.intp
                )
                self.failed.add(failed_keys, failed_rows, weights[failed], t_ms)
            self.server_seconds.observe(
                keys, rows, np.asarray(edges.server_s, dtype=np.float64), weights, t_ms
            )
            self.client_seconds.observe(
                keys, rows, np.asarray(edges.client_s, dtype=np.float64), weights, t_ms
            )
        for metric in (self.unpaired, self.dropped):
            found = [key for key, name in lost if name == metric.name]
            if found:
                unique = list(dict.fromkeys(found))
                index = {key: n for n, key in enumerate(unique)}
                rows = np.fromiter((index[k] for k in found), dtype=np.intp, count=len(found))
                metric.add(unique, rows, None, t_ms)


def _databases(
    guarded: GuardedSpans, rows: npt.NDArray[np.intp], peers: list[str | None]
) -> list[str | None]:
    """Per span of `rows` (whose peers are given), the server node of its database call,
    or None when it names no database."""
    columns = guarded.columns
    names = columns.text(_DB_NAME_KEYS)[rows].tolist()
    systems = columns.text(_DB_SYSTEM_KEYS)[rows].tolist()
    found: list[str | None] = []
    for i, name, system, peer in zip(rows.tolist(), names, systems, peers, strict=True):
        if name is None and system is None:
            found.append(None)
        elif peer is not None:
            found.append(peer)
        else:
            found.append(_address(guarded.attributes(i)) or name or system)
    return found


def _address(attrs: dict[str, AttrValue]) -> str | None:
    address = attrs.get("network.peer.address")
    if isinstance(address, str) and address:
        port = attrs.get("network.peer.port")
        return f"{address}:{port}" if isinstance(port, int | str) and port != "" else address
    return None
