"""The server bounds the memory glibc keeps free: worker threads that free big blocks
between small ones they keep no longer leave those blocks' megabytes in their arenas."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

# Four threads at once (an arena each by default) free one 4 MiB block (glibc's threshold for
# mapping blocks rises to it), then ten 600 KiB blocks, each allocated before a 2 KB one that
# is kept: the freed blocks lie under kept ones, where no trimming reaches.
_CHURN = textwrap.dedent(
    """
    import ctypes, json, sys, threading
    from vigil.cmd.allocator import bound_free_memory

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd",
            "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

    mallinfo2 = ctypes.CDLL("libc.so.6").mallinfo2
    mallinfo2.restype = MallInfo2
    bounded = bound_free_memory() if sys.argv[1] == "bounded" else None
    kept = []
    start = threading.Barrier(4)

    def churn():
        start.wait()
        del bytearray(4 << 20)[:]
        big = []
        for _ in range(10):
            big.append(bytearray(600 << 10))
            kept.append(bytearray(2000))
        big.clear()
        start.wait()

    workers = [threading.Thread(target=churn) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    print(json.dumps([bounded, mallinfo2().fordblks / (1 << 20)]))
    """
)


def _free_mib(mode: str) -> tuple[bool | None, float]:
    done = subprocess.run(
        [sys.executable, "-c", _CHURN, mode],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)},
    )
    bounded, free_mib = json.loads(done.stdout)
    return bounded, free_mib


def test_freed_blocks_go_back_to_the_system() -> None:
    assert _free_mib("default") == (None, pytest.approx(24, abs=6))  # glibc's defaults
    bounded, free_mib = _free_mib("bounded")
    assert (bounded, free_mib < 4) == (True, True), f"{free_mib:.1f} MiB kept free"
