"""`vigil dashboards import|list|export|delete`: the store of a data dir, or with `--url` a
running server's through its HTTP API (the server need not be stopped for either: the store
writes atomically and the server re-reads files it sees change)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from vigil.dashboards.store import (
    MAX_BYTES,
    DashboardError,
    DashboardStore,
)

_API = "/api/vigil/v1/dashboards"


class _RemoteError(Exception):
    """The server refused or could not be reached; the message says which and why."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "dashboards",
        help="import, list, export and delete Grafana dashboards",
        description="Work with the Grafana dashboards vigil's UI shows: those under "
        "<--storage.tsdb.path>/dashboards, or with --url those of a running vigil server.",
    )
    parser.set_defaults(run_command=run)
    commands = parser.add_subparsers(dest="dashboards", metavar="WHAT", required=True)
    imp = commands.add_parser(
        "import",
        help="import Grafana dashboard JSON files",
        description="Import each FILE (a dashboard's JSON, Grafana's 'export for sharing "
        "externally' or the API's {\"dashboard\": ...} body); print 'FILE: imported as UID' "
        "or 'FILE: FAILED: reason'; exit 1 if any failed.",
    )
    imp.add_argument("files", nargs="+", metavar="FILE")
    imp.add_argument(
        "--overwrite", action="store_true", help="replace a dashboard with the same uid"
    )
    imp.set_defaults(handler=_run_import)
    listing = commands.add_parser("list", help="list dashboards (built-in ones first)")
    listing.set_defaults(handler=_run_list)
    export = commands.add_parser("export", help="print a dashboard's JSON")
    export.add_argument("uid", metavar="UID")
    export.set_defaults(handler=_run_export)
    delete = commands.add_parser("delete", help="delete an imported dashboard")
    delete.add_argument("uid", metavar="UID")
    delete.set_defaults(handler=_run_delete)
    for command in (imp, listing, export, delete):
        command.add_argument(
            "--storage.tsdb.path",
            dest="data_dir",
            default="data",
            help="vigil server's data directory (default: %(default)s)",
        )
        command.add_argument(
            "--url",
            default="",
            help="a running vigil server (http://host:9090): go through its API instead",
        )


def run(args: argparse.Namespace) -> int:
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


def _run_import(args: argparse.Namespace) -> int:
    return import_command(args.files, args.data_dir, args.url, args.overwrite, sys.stdout)


def _run_list(args: argparse.Namespace) -> int:
    return list_command(args.data_dir, args.url, sys.stdout, sys.stderr)


def _run_export(args: argparse.Namespace) -> int:
    return export_command(args.uid, args.data_dir, args.url, sys.stdout, sys.stderr)


def _run_delete(args: argparse.Namespace) -> int:
    return delete_command(args.uid, args.data_dir, args.url, sys.stdout, sys.stderr)


def _store(data_dir: str) -> DashboardStore:
    return DashboardStore(Path(data_dir) / "dashboards")


def import_command(files: list[str], data_dir: str, url: str, overwrite: bool, out: TextIO) -> int:
    store = None if url else _store(data_dir)
    status = 0
    for name in files:
        try:
            with open(name, "rb") as handle:
                raw = handle.read(MAX_BYTES + 1)
            if store is not None:
                dashboard = store.import_dashboard(raw, name, overwrite=overwrite)
                uid, title, panels = dashboard.uid, dashboard.title, dashboard.panel_count
            else:
                data = _remote_import(url, name, raw, overwrite)
                uid, title, panels = data["uid"], data["title"], data["panels"]
        except OSError as err:
            print(f"{name}: FAILED: cannot read: {err.strerror}", file=out)
            status = 1
        except DashboardError as err:
            print(f"{name}: FAILED: {err.reason}", file=out)
            status = 1
        except _RemoteError as err:
            print(f"{name}: FAILED: {err}", file=out)
            status = 1
        else:
            where = f"{url.rstrip('/')}/d/{uid}" if url else f"/d/{uid} on vigil server"
            print(f"{name}: imported as {uid} ({title}, {panels} panels): {where}", file=out)
    return status


def list_command(data_dir: str, url: str, out: TextIO, err: TextIO) -> int:
    if url:
        try:
            rows = _remote(url, "GET", _API)
        except _RemoteError as error:
            print(f"vigil dashboards list: {error}", file=err)
            return 1
    else:
        print(f"dashboards of data dir {Path(data_dir).resolve()}", file=err)
        rows = [
            {
                "uid": e.uid,
                "title": e.title,
                "builtin": e.builtin,
                "panels": e.panels,
                "error": e.error,
            }
            for e in _store(data_dir).list()
        ]
    width = max((len(r["uid"]) for r in rows), default=3)
    print(f"{'UID':<{width}}  {'PANELS':>6}  KIND      TITLE", file=out)
    for row in rows:
        kind = "built-in" if row["builtin"] else "imported"
        if row.get("error"):
            print(f"{row['uid']:<{width}}  {'-':>6}  ERROR     {row['error']}", file=out)
        else:
            print(f"{row['uid']:<{width}}  {row['panels']:>6}  {kind:<8}  {row['title']}", file=out)
    return 0


def export_command(uid: str, data_dir: str, url: str, out: TextIO, err: TextIO) -> int:
    try:
        if url:
            model = _remote(url, "GET", f"{_API}/{uid}")["dashboard"]
        else:
            model = _store(data_dir).get(uid).model
    except (DashboardError, _RemoteError) as error:
        print(f"vigil dashboards export: {error}", file=err)
        return 1
    print(json.dumps(model, indent=2, ensure_ascii=False), file=out)
    return 0


def delete_command(uid: str, data_dir: str, url: str, out: TextIO, err: TextIO) -> int:
    try:
        if url:
            _remote(url, "DELETE", f"{_API}/{uid}")
        else:
            _store(data_dir).delete(uid)
    except (DashboardError, _RemoteError) as error:
        print(f"vigil dashboards delete: {error}", file=err)
        return 1
    print(f"{uid}: deleted", file=out)
    return 0


def _remote_import(url: str, name: str, raw: bytes, overwrite: bool) -> Any:
    """POST the file as a multipart upload, so the server's errors name it."""
    params = {"overwrite": "true"} if overwrite else {}
    files = {"file": (Path(name).name, raw, "application/json")}
    data = _remote(url, "POST", _API, params=params, files=files)
    return data


def _remote(url: str, method: str, path: str, **kwargs: Any) -> Any:
    import httpx

    try:
        response = httpx.request(method, url.rstrip("/") + path, timeout=30, **kwargs)
    except httpx.HTTPError as err:
        raise _RemoteError(f"cannot reach {url}: {err}") from None
    try:
        payload = response.json()
    except ValueError:
        raise _RemoteError(
            f"{url} answered {response.status_code} without JSON: {response.text[:200]}"
        ) from None
    if response.status_code != 200 or payload.get("status") != "success":
        message = payload.get("error") if isinstance(payload, dict) else None
        message = str(message or f"HTTP {response.status_code}")
        # the server names the upload ("upload x.json: ..."); the caller names the file itself
        _, sep, reason = message.partition(": ")
        raise _RemoteError(reason if sep and message.startswith("upload ") else message)
    return payload["data"]
