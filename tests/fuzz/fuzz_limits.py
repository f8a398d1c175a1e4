"""The time bound of one fuzz case, shared by the test suite and the campaign."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class CaseTooSlow(Exception):
    """A fuzz case ran past its time limit: a hang, or work not bounded by the input's size."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise `CaseTooSlow` in the block after `seconds` (main thread only; elsewhere no-op:
    the campaign's parent process also kills a worker that stops making progress)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise CaseTooSlow(f"the case took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
