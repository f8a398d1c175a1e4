"""Plug-in callables for the python backend tests (imported as `sample_plugins:...`)."""

from __future__ import annotations

import time
from decimal import Decimal

import trio
import trio.lowlevel

CALLS: dict[str, int] = {}


def quote(code: str) -> dict[str, object]:
    return {"found": code == "600000", "last": Decimal("12.35")}


async def async_quote(code: str) -> dict[str, object]:
    await trio.lowlevel.checkpoint()
    return {"code": code}


def flaky(key: str) -> str:
    """Fails with a connection error on the first call for a key, then succeeds."""
    CALLS[key] = CALLS.get(key, 0) + 1
    if CALLS[key] == 1:
        raise ConnectionError("backend restarting")
    return f"ok after {CALLS[key]}"


def broken(code: str) -> None:
    raise KeyError(code)


def slow(seconds: float) -> str:
    time.sleep(seconds)
    return "late"


NOT_CALLABLE = 42
