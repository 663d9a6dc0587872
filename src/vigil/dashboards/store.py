"""Grafana dashboards kept as one JSON file each under `<data dir>/dashboards/<uid>.json`.

The stored JSON is Grafana's own dashboard model (the UI renders it as Grafana would), made
ready for vigil on import: every datasource reference points at vigil, a Grafana "export for
sharing externally" has its `${DS_...}` inputs resolved, and a pre-5.0 dashboard (`rows` of
panels, schema < 16) is converted to the flat `panels` + `gridPos` layout. Files dropped into
the directory by hand get the same treatment when read. Two built-in dashboards ship in the
package; they are always listed first and only an explicit overwrite shadows one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from vigil.tsdb.fileutil import write_atomically

MAX_BYTES = 10 * 1024 * 1024
"""Largest dashboard accepted (Node Exporter Full, one of the biggest in use, is ~470 KB)."""

UID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,40}")
VIGIL_DATASOURCE_UID = "vigil"
BUILTIN_UIDS = ("vigil-node", "vigil-containers", "vigil-services")

# Grafana's own pseudo-datasources: annotations from Grafana's database, and a panel reusing
# another panel's results. They are no reference to a metrics store, so they stay as they are.
_GRAFANA_BUILTIN_SOURCES = frozenset({"grafana", "-- Grafana --", "-- Dashboard --"})
_PLACEHOLDER = re.compile(r"^\$\{([^}]+)\}$|^\$([A-Za-z0-9_]+)$")

# Grafana's grid: 24 columns, a row unit of 30 px plus an 8 px margin; old rows were 12 spans.
_GRID_COLUMNS = 24
_GRID_ROW_PX = 30 + 8
_DEFAULT_ROW_HEIGHT_PX = 250
_DEFAULT_SPAN = 4


class DashboardError(Exception):
    """Input that is not an acceptable dashboard; `source` names where it came from."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class DashboardConflictError(DashboardError):
    """The uid is taken (by a stored or a built-in dashboard) and overwrite was not asked."""


class DashboardNotFoundError(DashboardError):
    """No dashboard has this uid."""


class BuiltinDashboardError(DashboardError):
    """A built-in dashboard is read-only: it can be neither replaced nor deleted."""


@dataclass(frozen=True, slots=True)
class Dashboard:
    """One dashboard: Grafana's JSON model and what the store knows about it."""

    uid: str
    title: str
    tags: tuple[str, ...]
    builtin: bool
    updated: float  # seconds since the epoch: when the file was last written
    model: Mapping[str, Any] = field(compare=False, repr=False)

    @property
    def panel_count(self) -> int:
        return count_panels(self.model.get("panels", []))


@dataclass(frozen=True, slots=True)
class DashboardSummary:
    """A list entry; a stored file that cannot be read is listed with `error` set."""

    uid: str
    title: str
    tags: tuple[str, ...]
    builtin: bool
    panels: int
    updated: float
    error: str | None = None


def count_panels(panels: Any) -> int:
    """Every panel, those nested in collapsed rows too; rows themselves are not panels."""
    if not isinstance(panels, list):
        return 0
    return sum(
        (p.get("type") != "row") + count_panels(p.get("panels", []))
        for p in panels
        if isinstance(p, dict)
    )


# --- normalising Grafana's JSON --------------------------------------------------------------


def parse_dashboard(raw: bytes, source: str) -> tuple[dict[str, Any], bool]:
    """`raw` as a dashboard model ready to store, and whether its wrapper asked to overwrite.

    Accepts a plain dashboard, Grafana's external export (`__inputs`, `__requires`,
    `__elements`) and the HTTP API's `{"dashboard": {...}, "overwrite": true}` (also Grafana's
    `{"meta": ..., "dashboard": ...}` as `GET /api/dashboards/uid/X` returns it)."""
    if len(raw) > MAX_BYTES:
        raise DashboardError(
            source, f"is {len(raw) / 1048576:.1f} MiB, more than the {MAX_BYTES >> 20} MiB allowed"
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DashboardError(
            source, f"not JSON: not UTF-8 text (byte 0x{raw[err.start]:02x} at offset {err.start})"
        ) from None
    try:
        value = json.loads(text)
        overwrite = False
        wrapped = isinstance(value, dict) and isinstance(value.get("dashboard"), dict)
        if wrapped and "panels" not in value and "rows" not in value:
            overwrite = value.get("overwrite") is True
            value = value["dashboard"]
        return normalize(value, source), overwrite
    except json.JSONDecodeError as err:
        raise DashboardError(
            source, f"not JSON: {err.msg} at line {err.lineno}, column {err.colno}"
        ) from None
    except RecursionError:
        raise DashboardError(source, "nested too deeply to be a dashboard") from None


def normalize(value: Any, source: str) -> dict[str, Any]:
    """Validate a decoded dashboard and make it ready for vigil (idempotent)."""
    if not isinstance(value, dict):
        raise DashboardError(
            source, f"JSON but not a dashboard: the top level is {_json_kind(value)}, not an object"
        )
    model = dict(value)
    if "panels" not in model and "rows" not in model:
        raise DashboardError(
            source, 'JSON but not a dashboard: it has no "panels" field (nor old-style "rows")'
        )
    for name in ("panels", "rows"):
        if name in model and not isinstance(model[name], list):
            raise DashboardError(source, f'field "{name}" is {_json_kind(model[name])}, not a list')
    title = model.get("title")
    if not isinstance(title, str) or not title.strip():
        raise DashboardError(source, 'field "title" is missing or empty (a dashboard needs one)')
    uid = model.get("uid")
    if uid in (None, ""):
        model["uid"] = _derived_uid(model)
    elif not isinstance(uid, str) or not UID_PATTERN.fullmatch(uid):
        raise DashboardError(
            source,
            f'field "uid" is {json.dumps(uid)}: a uid is 1 to 40 characters of A-Z, a-z, 0-9, '
            "'-' and '_'",
        )
    tags = model.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise DashboardError(source, 'field "tags" must be a list of strings')
    _check_panels(model.get("panels", []), "panels", source)
    if model.get("rows") and not model.get("panels"):
        _check_rows(model["rows"], source)
        model["panels"] = rows_to_panels(model["rows"])
        model["schemaVersion"] = max(_number(model.get("schemaVersion"), 0), 16)
    model.pop("rows", None)
    inputs = _inputs(model.pop("__inputs", None), source)
    elements = model.pop("__elements", None)
    model.pop("__requires", None)
    if isinstance(elements, dict):
        model["panels"] = [_inline_library_panel(p, elements) for p in model["panels"]]
    resolved: dict[str, Any] = _resolve(model, inputs)
    return resolved


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return {
        list: "a list",
        dict: "an object",
        str: "a string",
        int: "a number",
        float: "a number",
    }.get(type(value), type(value).__name__)


def _number(value: Any, default: float) -> float:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else default


def _check_panels(panels: list[Any], where: str, source: str) -> None:
    for i, panel in enumerate(panels):
        if not isinstance(panel, dict):
            raise DashboardError(source, f"{where}[{i}] is {_json_kind(panel)}, not a panel object")
        nested = panel.get("panels")
        if nested is not None:
            if not isinstance(nested, list):
                raise DashboardError(
                    source, f"{where}[{i}].panels is {_json_kind(nested)}, not a list"
                )
            _check_panels(nested, f"{where}[{i}].panels", source)


def _check_rows(rows: list[Any], source: str) -> None:
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise DashboardError(source, f"rows[{i}] is {_json_kind(row)}, not a row object")
        panels = row.get("panels", [])
        if not isinstance(panels, list):
            raise DashboardError(source, f"rows[{i}].panels is {_json_kind(panels)}, not a list")
        _check_panels(panels, f"rows[{i}].panels", source)


def _derived_uid(model: Mapping[str, Any]) -> str:
    """Slug of the title plus a short hash of the content: the same file imported twice gets
    the same uid (a conflict, not a duplicate)."""
    slug = re.sub(r"[^a-z0-9]+", "-", str(model.get("title", "")).lower()).strip("-")[:31]
    digest = hashlib.sha256(json.dumps(model, sort_keys=True).encode()).hexdigest()[:8]
    return f"{slug}-{digest}" if slug else f"dashboard-{digest}"


def _inputs(value: Any, source: str) -> dict[str, Mapping[str, Any]]:
    """An export's `__inputs` by name (`DS_PROMETHEUS` → its datasource or constant)."""
    if value is None:
        return {}
    if not isinstance(value, list) or not all(
        isinstance(i, dict) and isinstance(i.get("name"), str) for i in value
    ):
        raise DashboardError(source, 'field "__inputs" must be a list of objects with a "name"')
    return {i["name"]: i for i in value}


def _inline_library_panel(panel: Any, elements: Mapping[str, Any]) -> Any:
    """An export carries its library panels in `__elements`; put each model in place."""
    library = panel.get("libraryPanel") if isinstance(panel, dict) else None
    element = elements.get(library.get("uid", "")) if isinstance(library, dict) else None
    model = element.get("model") if isinstance(element, dict) else None
    if not isinstance(model, dict):
        return panel
    inlined = {**model, "gridPos": panel.get("gridPos", model.get("gridPos"))}
    if "id" in panel:
        inlined["id"] = panel["id"]
    return inlined


def _resolve(value: Any, inputs: Mapping[str, Mapping[str, Any]]) -> Any:
    """Every `datasource` reference → vigil; `${VAR_...}` constants → their value."""
    if isinstance(value, dict):
        return {
            k: _datasource(v, inputs) if k == "datasource" else _resolve(v, inputs)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_resolve(v, inputs) for v in value]
    if isinstance(value, str) and "$" in value:
        for name, spec in inputs.items():
            if spec.get("type") == "constant" and isinstance(spec.get("value"), str):
                value = value.replace("${" + name + "}", spec["value"])
    return value


def _datasource(ref: Any, inputs: Mapping[str, Mapping[str, Any]]) -> Any:
    if ref is None:
        return None  # Grafana's default datasource, which in vigil is vigil
    if isinstance(ref, str):
        if ref in _GRAFANA_BUILTIN_SOURCES:
            return ref
        return {"type": _input_type(ref, inputs) or "prometheus", "uid": VIGIL_DATASOURCE_UID}
    if not isinstance(ref, dict):
        return ref
    kind, uid = ref.get("type"), ref.get("uid")
    if kind in ("grafana", "datasource") or uid in _GRAFANA_BUILTIN_SOURCES:
        return ref
    if isinstance(kind, str) and _PLACEHOLDER.match(kind):
        kind = _input_type(kind, inputs)
    if not isinstance(kind, str) or not kind:
        kind = (_input_type(uid, inputs) if isinstance(uid, str) else None) or "prometheus"
    return {**ref, "type": kind, "uid": VIGIL_DATASOURCE_UID}


def _input_type(ref: str, inputs: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The plugin id an export's `${DS_X}` placeholder stands for."""
    match = _PLACEHOLDER.match(ref)
    if match is None:
        return None
    spec = inputs.get(match[1] or match[2])
    plugin = spec.get("pluginId") if spec is not None else None
    return plugin if isinstance(plugin, str) and plugin else None


# --- schema < 16: rows of spans → panels on the grid ------------------------------------------


def _grid_height(height: Any) -> int:
    """A row's or panel's height in pixels ("250px" or 250) → grid units."""
    if isinstance(height, str):
        digits = re.match(r"\s*(\d+(?:\.\d+)?)", height)
        height = float(digits[1]) if digits else _DEFAULT_ROW_HEIGHT_PX
    pixels = _number(height, _DEFAULT_ROW_HEIGHT_PX)
    return max(1, math.ceil(pixels / _GRID_ROW_PX))


class _RowArea:
    """One old-style row's band of the grid: how far down each of the 24 columns is filled.
    A panel goes to the highest, then leftmost, spot still inside the band; when none is
    left, a new band starts below (as Grafana stacks short panels and wraps wide ones)."""

    def __init__(self, height: int, y: int) -> None:
        self.height = height
        self.y = y
        self.filled = [0] * _GRID_COLUMNS

    def place(self, width: int, height: int) -> tuple[int, int]:
        top, x = min((max(self.filled[x : x + width]), x) for x in range(_GRID_COLUMNS - width + 1))
        if top >= self.height:
            self.y += max(self.filled)
            self.filled = [0] * _GRID_COLUMNS
            top, x = 0, 0
        self.filled[x : x + width] = [top + height] * width
        return x, self.y + top

    @property
    def bottom(self) -> int:
        return self.y + max(self.height, *self.filled)


def rows_to_panels(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Grafana's schema-16 migration: each row's panels get a `gridPos` from their `span`
    (12 per row → 24 columns) and `height`; when a row shows its title, collapses or
    repeats, it becomes a `row` panel, holding its panels when collapsed."""
    show_rows = any(r.get("collapse") or r.get("showTitle") or r.get("repeat") for r in rows)
    next_id = 1 + max(
        (
            int(_number(p.get("id"), 0))
            for r in rows
            for p in r.get("panels", [])
            if isinstance(p, dict)
        ),
        default=0,
    )
    out: list[dict[str, Any]] = []
    y = 0
    for row in rows:
        if row.get("repeatIteration"):
            continue
        row_height = _grid_height(row.get("height", _DEFAULT_ROW_HEIGHT_PX))
        collapsed = bool(row.get("collapse"))
        row_panel: dict[str, Any] | None = None
        if show_rows:
            row_panel = {
                "type": "row",
                "id": next_id,
                "title": row.get("title", ""),
                "collapsed": collapsed,
                "panels": [],
                "gridPos": {"x": 0, "y": y, "w": _GRID_COLUMNS, "h": 1},
            }
            if row.get("repeat"):
                row_panel["repeat"] = row["repeat"]
            next_id += 1
            out.append(row_panel)
            y += 1
        area = _RowArea(row_height, y)
        for old in row.get("panels", []):
            panel = dict(old)
            span = _number(panel.pop("span", _DEFAULT_SPAN), _DEFAULT_SPAN)
            width = min(_GRID_COLUMNS, max(1, math.floor(span) * _GRID_COLUMNS // 12))
            height = _grid_height(panel["height"]) if "height" in panel else row_height
            x, py = area.place(width, height)
            panel["gridPos"] = {"x": x, "y": py, "w": width, "h": height}
            if row_panel is not None and collapsed:
                row_panel["panels"].append(panel)
            else:
                out.append(panel)
        if not collapsed or row_panel is None:
            y = area.bottom
    return out


# --- the store -------------------------------------------------------------------------------


def _builtin_folder() -> Any:
    return resources.files("vigil") / "dashboards" / "builtin"


class DashboardStore:
    """Dashboards under `directory` (created on the first import) plus the built-in ones.

    Safe to share between the server and a CLI run on the same directory: writes go to a
    temporary file renamed into place, and reads look at the files every time (a parsed file
    is cached by its mtime and size)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[tuple[int, int], Dashboard | DashboardError]] = {}
        self._builtins: dict[str, Dashboard] | None = None

    # --- reading ---

    def builtins(self) -> dict[str, Dashboard]:
        if self._builtins is None:
            loaded = {}
            folder = _builtin_folder()
            for uid in BUILTIN_UIDS:
                entry = folder / f"{uid}.json"
                raw = entry.read_bytes()
                model = normalize(json.loads(raw), f"built-in {uid}.json")
                loaded[uid] = _dashboard(model, builtin=True, updated=0.0)
            self._builtins = loaded
        return self._builtins

    def get(self, uid: str) -> Dashboard:
        """The stored dashboard (which shadows a built-in of the same uid), else the built-in."""
        if UID_PATTERN.fullmatch(uid):
            path = self.directory / f"{uid}.json"
            if path.is_file():
                loaded = self._load(path)
                if isinstance(loaded, DashboardError):
                    raise loaded
                return loaded
            builtin = self.builtins().get(uid)
            if builtin is not None:
                return builtin
        raise DashboardNotFoundError(uid, "no dashboard has this uid")

    def list(self) -> list[DashboardSummary]:
        """Built-ins first (in their shipped order), then stored ones by title; an unreadable
        file is listed with its error (and left in place for the user to fix)."""
        stored: dict[str, DashboardSummary] = {}
        for path in self._files():
            loaded = self._load(path)
            stored[path.stem] = _summary(loaded, path)
        first = [
            stored.pop(uid) if uid in stored else _summary(b, None)
            for uid, b in self.builtins().items()
        ]
        rest = sorted(stored.values(), key=lambda s: (s.title.casefold(), s.uid))
        return [*first, *rest]

    def _files(self) -> Iterator[Path]:
        try:
            entries = sorted(self.directory.iterdir())
        except FileNotFoundError:
            return
        for path in entries:
            if path.suffix == ".json" and not path.name.startswith(".") and path.is_file():
                yield path

    def _load(self, path: Path) -> Dashboard | DashboardError:
        source = path.name  # never the server's directory: errors reach API clients
        try:
            stat = path.stat()
            key = (stat.st_mtime_ns, stat.st_size)
            cached = self._cache.get(path.stem)
            if cached is not None and cached[0] == key:
                return cached[1]
            raw = path.read_bytes()
        except OSError as err:
            return DashboardError(source, f"cannot read: {err.strerror}")
        loaded: Dashboard | DashboardError
        if not UID_PATTERN.fullmatch(path.stem):
            loaded = DashboardError(
                source, "the file name is not a valid uid (1 to 40 of A-Z, a-z, 0-9, '-', '_')"
            )
        else:
            try:
                model, _ = parse_dashboard(raw, source)
            except DashboardError as err:
                loaded = err
            else:
                model["uid"] = path.stem  # the file name is the uid
                builtin = path.stem in BUILTIN_UIDS
                loaded = _dashboard(model, builtin=builtin, updated=stat.st_mtime)
        self._cache[path.stem] = (key, loaded)
        return loaded

    # --- writing ---

    def import_dashboard(self, raw: bytes, source: str, *, overwrite: bool = False) -> Dashboard:
        """Store `raw` (any accepted form); `overwrite` (or the wrapper's own flag) replaces a
        stored dashboard with the same uid. Built-ins are read-only. Everything is checked
        before the file is written (atomically), so a refused import leaves nothing behind."""
        model, wrapper_overwrite = parse_dashboard(raw, source)
        overwrite = overwrite or wrapper_overwrite
        uid = str(model["uid"])
        if uid in BUILTIN_UIDS:
            raise BuiltinDashboardError(
                source,
                f'uid "{uid}" is a built-in dashboard, which is read-only; give your copy '
                'another "uid" (or none, for one derived from its title) to import it',
            )
        body = json.dumps(model, indent=2, ensure_ascii=False).encode() + b"\n"
        if len(body) > MAX_BYTES:
            raise DashboardError(
                source,
                f"is {len(body) / 1048576:.1f} MiB once normalised, more than the "
                f"{MAX_BYTES >> 20} MiB allowed",
            )
        with self._lock:
            path = self.directory / f"{uid}.json"
            if not overwrite and path.exists():
                raise DashboardConflictError(
                    source,
                    f'a dashboard with uid "{uid}" exists already; import with overwrite '
                    "to replace it",
                )
            self.directory.mkdir(parents=True, exist_ok=True)
            write_atomically(path, body)
        loaded = self._load(path)
        if isinstance(loaded, DashboardError):
            raise loaded
        return loaded

    def delete(self, uid: str) -> None:
        """Remove a stored dashboard. A built-in one cannot go; deleting a stored copy that
        shadows a built-in brings the shipped one back."""
        path = self.directory / f"{uid}.json"
        with self._lock:
            if UID_PATTERN.fullmatch(uid) and path.is_file():
                path.unlink()
                self._cache.pop(uid, None)
                return
        if uid in BUILTIN_UIDS:
            raise BuiltinDashboardError(uid, "is a built-in dashboard and cannot be deleted")
        raise DashboardNotFoundError(uid, "no dashboard has this uid")


def _dashboard(model: dict[str, Any], *, builtin: bool, updated: float) -> Dashboard:
    return Dashboard(
        uid=str(model["uid"]),
        title=str(model["title"]),
        tags=tuple(model.get("tags", [])),
        builtin=builtin,
        updated=updated,
        model=model,
    )


def _summary(loaded: Dashboard | DashboardError, path: Path | None) -> DashboardSummary:
    if isinstance(loaded, DashboardError):
        assert path is not None
        updated = 0.0
        with contextlib.suppress(OSError):
            updated = path.stat().st_mtime
        return DashboardSummary(
            path.stem, path.name, (), path.stem in BUILTIN_UIDS, 0, updated, loaded.reason
        )
    return DashboardSummary(
        loaded.uid, loaded.title, loaded.tags, loaded.builtin, loaded.panel_count, loaded.updated
    )
