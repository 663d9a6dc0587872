import sys

# httpx imports its command-line tool (click, pygments; ~3 MiB resident) whenever those happen
# to be installed; vigil never runs it, so it is marked absent before anything imports httpx.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

from vigil.cmd import main  # noqa: E402

raise SystemExit(main())
