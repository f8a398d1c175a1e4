"""How many calls this pjsua2 build can hold, read from the compiled library.

Place: start-up of the SIP adapter (and `ivr doctor`-style checks). Every PyPI wheel of
pjsua2 is compiled with `PJSUA_MAX_CALLS` 4 and silently clamps a larger `maxCalls`, so the
server states the real number when it starts. The values come from the C library inside the
extension module through ctypes (no pjsua2 import: this module stays out of the pj thread's
business, and works before the library starts):

- `compiled_max_calls()`: `PJSUA_MAX_CALLS`, via `pjsua_config_default()` on a scratch
  buffer (`max_calls` is the first field of `pjsua_config`).
- `effective_max_calls()`: `pjsua_call_get_max_count()`, the limit in force after `libInit`.

`slot_reserve(limit)` is how many slots the server keeps free below the limit, so that it
answers 503 with Retry-After before pjsua2 would answer 486 Busy Here on its own, and
`calls_counted()` is pjsua2's own count of its calls (`pjsua_call_get_count()`, the number
it checks before answering 486; call it from the pj thread).
"""

from __future__ import annotations

import ctypes
import importlib.util
from collections.abc import Callable
from functools import cache
from typing import cast

from ivr.adapters.errors import AdapterError

# Far larger than sizeof(pjsua_config) (a few KiB in 2.12-2.15): a scratch buffer only.
_CONFIG_BUFFER = 64 * 1024


class PjsuaNotInstalled(AdapterError):
    """The pjsua2 extension (`_pjsua2`) is not importable. Build and install it with
    `bash scripts/build-pjsua2.sh .venv`."""


@cache
def _library() -> ctypes.CDLL:
    spec = importlib.util.find_spec("_pjsua2")
    if spec is None or spec.origin is None:
        raise PjsuaNotInstalled("the pjsua2 extension `_pjsua2` is not installed")
    # dlopen of an already loaded library returns the same handle: same globals.
    return ctypes.CDLL(spec.origin)


def compiled_max_calls() -> int:
    """`PJSUA_MAX_CALLS` of the installed build (4 for PyPI wheels, 1024 for ours)."""
    lib = _library()
    buffer = ctypes.create_string_buffer(_CONFIG_BUFFER)
    lib.pjsua_config_default.restype = None
    lib.pjsua_config_default(buffer)
    return int(ctypes.c_uint.from_buffer(buffer).value)


def effective_max_calls() -> int:
    """The call limit in force (after `libInit`; 0 before)."""
    lib = _library()
    lib.pjsua_call_get_max_count.restype = ctypes.c_uint
    return int(lib.pjsua_call_get_max_count())


def calls_counted() -> int:
    """pjsua2's count of the calls it holds (the pj thread's view; it reads one counter)."""
    return int(_call_count_function()())


@cache
def _call_count_function() -> Callable[[], int]:
    """`pjsua_call_get_count`, typed once (it is read on every incoming INVITE)."""
    function = _library().pjsua_call_get_count
    function.restype = ctypes.c_uint
    return cast(Callable[[], int], function)


def slot_reserve(limit: int) -> int:
    """Slots kept free below a call limit of `limit` (refused INVITEs, calls hanging up and
    agent legs hold a slot for a moment)."""
    return min(32, max(1, limit // 32)) if limit > 1 else 0


def set_pj_log_level(level: int) -> None:
    """Set pjlib's log level; works before `libCreate`, so start-up stays quiet too."""
    lib = _library()
    lib.pj_log_set_level.restype = None
    lib.pj_log_set_level(ctypes.c_int(level))
