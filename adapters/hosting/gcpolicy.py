"""How `ivr serve` sets Python's cyclic garbage collector for a long-running server.

Place: called once by the `serve` command before the server starts (and by
`benchmarks/engine_concurrency.py --gc server`, to measure what the server runs with).

With CPython's defaults (a young-generation collection every 700 net new container
objects) a process holding hundreds of calls spends much of its time in collections that
find next to nothing: every call's tasks, frames and records are alive, and each full
collection walks all of them again. Measured with the engine benchmark (10,000 waiting
calls), the collector took more than half the CPU. So:

- `gc.freeze()` after start-up: the modules, the compiled flows and the schemas live as
  long as the process; they are moved out of every later collection.
- a young generation of 50,000 objects instead of 700: collections run about 70 times
  less often; the garbage they do find (mostly trio's cancelled-exception cycles) is a few
  megabytes at most.
"""

from __future__ import annotations

import gc

SERVER_THRESHOLDS = (50_000, 10, 10)


def tune_for_serving() -> None:
    """Freeze what start-up made and raise the young-generation threshold (idempotent)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVER_THRESHOLDS)
