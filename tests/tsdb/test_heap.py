"""Freed memory goes back to the system: glibc's malloc_trim after a burst of work."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

# ~150 MB of 1 KB blocks allocated in a worker thread (as queries are), one in 200 kept alive
# so the allocator cannot give the rest back by itself.
_CHURN = textwrap.dedent(
    """
    import json, threading
    from vigil.tsdb.heap import trim_heap

    def rss_mib():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024

    kept = []

    def churn():
        blocks = [bytearray(1000) for _ in range(150_000)]
        kept.extend(blocks[::200])

    worker = threading.Thread(target=churn)
    worker.start()
    worker.join()
    before = rss_mib()
    trimmed = trim_heap()
    print(json.dumps([trimmed, before, rss_mib()]))
    """
)


def test_trimming_returns_freed_memory() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CHURN], capture_output=True, text=True, timeout=120, check=True
    )
    trimmed, before, after = json.loads(done.stdout)
    assert trimmed  # this machine's libc is glibc
    assert before - after > 50, f"RSS {before} MiB before trimming, {after} MiB after"
