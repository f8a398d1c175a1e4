"""One bad HTTP connection must not stop the server: a guard around hypercorn's trio worker.

Place: applied by the hosting server before it starts hypercorn (`server._serve_http`).

Found by fuzzing (tests/fuzz, target `http_wire`): in hypercorn 0.18 an exception inside one
connection's handler escapes into the worker's nursery, which then stops listening; in
`ivr serve` it ends the whole process, dropping every call. A request with
`Connection: close` followed by a few stray bytes does it within a handful of tries: h11
rejects the extra bytes, hypercorn answers 400 while the connection is being closed, and
the two sends collide (`trio.BusyResourceError`; hypercorn issue #203). `guard_connections`
wraps each connection's `TCPServer.run` so that any exception ends that connection only,
logged as a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from contextlib import suppress
from typing import Any

import trio
from hypercorn.trio.tcp_server import TCPServer

log = logging.getLogger(__name__)

_GUARDED = "_ivr_guarded"


def guard_connections() -> None:
    """Make every hypercorn (trio) connection fail alone. Idempotent."""
    if getattr(TCPServer, _GUARDED, False):
        return
    TCPServer.run = _guarded(TCPServer.run)  # type: ignore[assignment]
    setattr(TCPServer, _GUARDED, True)


_Run = Callable[[Any], Coroutine[Any, Any, None]]


def _guarded(run: _Run) -> _Run:
    async def guarded_run(self: Any) -> None:
        try:
            await run(self)
        except Exception as error:  # anything from one connection stays with it
            log.warning("an HTTP connection failed and was closed: %r", error)
            with trio.CancelScope(shield=True), suppress(Exception):  # it may be closed already
                await self.stream.aclose()

    return guarded_run
