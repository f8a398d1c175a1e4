"""Serving an ASGI app on 127.0.0.1 for a test: shared by the CTI, editor and tenants suites.

Place: at the top of `tests/`, which pytest puts on `sys.path` with the suite's conftest.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """Serve `app` with hypercorn's trio worker on 127.0.0.1 (a free port); yield its URL."""
    from hypercorn.config import Config
    from hypercorn.trio import serve

    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.graceful_timeout = 0.5
    async with trio.open_nursery() as nursery:
        binds: list[str] = await nursery.start(
            lambda task_status: serve(app, config, task_status=task_status)
        )
        yield binds[0]
        nursery.cancel_scope.cancel()
