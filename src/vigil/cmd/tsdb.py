"""`vigil tsdb import|dump|analyze|repair`: promtool tsdb's twins on a data dir's blocks."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from types import ModuleType


def run(args: argparse.Namespace) -> int:
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`vigil tsdb import|dump|analyze` (promtool tsdb's twins) on a data dir's blocks."""
    from pathlib import Path

    parser = sub.add_parser("tsdb", help="work with a data dir's blocks (promtool tsdb's twin)")
    tsdb = parser.add_subparsers(dest="tsdb", metavar="WHAT", required=True)
    imp = tsdb.add_parser(
        "import",
        help="write 2h-aligned blocks from a file (promtool tsdb create-blocks-from)",
    )
    imp.add_argument("kind", choices=["openmetrics"], help="input format")
    imp.add_argument("file", type=Path, metavar="FILE")
    imp.add_argument("data_dir", type=Path, nargs="?", default=Path("data"), metavar="DATA_DIR")
    imp.set_defaults(
        handler=lambda a: _tsdb_importer().import_command(
            a.kind, a.file, a.data_dir, sys.stdout, sys.stderr
        )
    )
    dump = tsdb.add_parser("dump", help="print the samples of the blocks in a data dir")
    dump.add_argument("data_dir", type=Path, nargs="?", default=Path("data"), metavar="DATA_DIR")
    dump.add_argument("--match", default=None, help="series selector (default: every series)")
    dump.add_argument("--min-time", type=int, default=-(2**63), help="ms, inclusive")
    dump.add_argument("--max-time", type=int, default=2**63 - 1, help="ms, inclusive")
    dump.set_defaults(
        handler=lambda a: _tsdb_importer().dump_command(
            a.data_dir, a.match, a.min_time, a.max_time, sys.stdout, sys.stderr
        )
    )
    analyze = tsdb.add_parser("analyze", help="cardinality of a block: top metrics and labels")
    analyze.add_argument("data_dir", type=Path, nargs="?", default=Path("data"), metavar="DATA_DIR")
    analyze.add_argument("block_id", nargs="?", default=None, help="default: the newest block")
    analyze.add_argument("--limit", type=int, default=20, help="rows per table")
    analyze.set_defaults(
        handler=lambda a: _tsdb_importer().analyze_command(
            a.data_dir, a.block_id, a.limit, sys.stdout, sys.stderr
        )
    )
    repair = tsdb.add_parser(
        "repair",
        help="quarantine corrupt blocks and truncate a corrupt WAL (asks for --yes)",
        description="Read every block in DATA_DIR whole and find the first unreadable WAL "
        "record; report what moving corrupt blocks to DATA_DIR/quarantine/ and truncating the "
        "WAL there would drop; with --yes, do it (the server must be stopped).",
    )
    repair.add_argument("data_dir", type=Path, metavar="DATA_DIR")
    repair.add_argument("--yes", action="store_true", help="really move blocks and truncate")
    repair.set_defaults(handler=_run_tsdb_repair)
    parser.set_defaults(run_command=run)


def _tsdb_importer() -> ModuleType:
    """Imported when a tsdb command runs, so `vigil agent` never loads numpy or zstandard."""
    from vigil.tsdb import importer

    return importer


def _run_tsdb_repair(args: argparse.Namespace) -> int:
    from vigil.tsdb.repair import repair_command

    return repair_command(args.data_dir, args.yes, sys.stdout, sys.stderr)
