"""`name_os_thread`: the operating system's name of the calling thread, for `top -H`,
`perf` and `/proc/<pid>/task/*/comm` (benchmarks/pjsua_ratio.py --threads reads it).

Place: a helper of the adapters that start their own threads (the pjsua2 thread, the
records writer). Python 3.11's `threading` names a thread only for Python; Linux's
`prctl(PR_SET_NAME)` names it for everyone (15 bytes at most). Elsewhere, or if the call
fails, nothing happens: a name is a convenience, never a requirement.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_PR_SET_NAME = 15


def name_os_thread(name: str) -> None:
    """Name the calling thread `name` (cut to 15 bytes) where the system allows it."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_NAME, name.encode()[:15], 0, 0, 0)
    except (OSError, AttributeError):
        return
