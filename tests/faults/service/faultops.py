"""The fault service's data operation: it answers, or fails, as it is told.

The mode is `MODE` (set by an in-process harness) or, when the file named by the
`IVR_FAULT_MODE_FILE` environment variable exists, that file's text (a server process,
switched from outside). Modes: ok, op_timeout, op_slow, op_raise, op_malformed.
"""

import itertools
import os
from pathlib import Path

import trio

MODE = "ok"
_MALFORMED = [
    None, "garbage", 42, [], ["Li Na", "1000"], {}, {"name": "Li Na"}, {"balance": "1"},
    {"name": None, "balance": None}, {"name": ["x"], "balance": {"a": 1}},
    {"name": "\x00\ud800", "balance": "NaN"}, {"name": "x" * 100_000, "balance": "1e999"},
]  # fmt: skip
_next = itertools.count()


def mode() -> str:
    path = os.environ.get("IVR_FAULT_MODE_FILE")
    if path and Path(path).exists():
        return Path(path).read_text().strip() or "ok"
    return MODE


async def account(caller: str) -> object:
    current = mode()
    if current == "op_timeout":
        await trio.sleep(5)  # past the 500 ms timeout, both attempts
    elif current == "op_slow":
        await trio.sleep(0.3)  # slow, but within it
    elif current == "op_raise":
        raise RuntimeError("the back office is down")
    elif current == "op_malformed":
        return _MALFORMED[next(_next) % len(_MALFORMED)]
    return {"name": f"Customer {caller[-4:]}", "balance": "1000.00"}  # a prompt per caller
