"""Timeout, retry and backoff around any data backend; the per-operation counters.

Place: between `ServiceOperations.invoke` (which the runtime calls) and a backend's single
attempt. Semantics, shared by every backend:

- `timeout` bounds *each attempt* (trio cancellation, so a hung socket or thread is left);
- `retries` is the number of extra attempts after the first, made only after a retryable
  failure (a timeout, a connection error, a busy database, HTTP 5xx/408/429) and never after
  a permanent one (SQL syntax, constraint violation, HTTP 4xx, a plug-in's own exception);
- between attempts the policy sleeps an exponential backoff with jitter;
- the final outcome is `OperationTimeout` when the last attempt timed out, `OperationError`
  otherwise; both messages name the operation.

Idempotency: an operation declared with `idempotency_key: <param>` gets that parameter filled
with a fresh key when the flow did not pass one, *before* the first attempt, so every retry
carries the same key and the back end can recognise a repeat (an HTTP backend also sends it as
the `Idempotency-Key` header; a SQL statement can use it in `INSERT ... ON CONFLICT DO NOTHING`).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import trio

from ivr.adapters.data.errors import BackendFailure
from ivr.runtime.ports import OperationError, OperationTimeout


@dataclass(frozen=True)
class RetryPolicy:
    """How one operation is attempted. Times are in seconds."""

    timeout: float
    retries: int = 0
    backoff: float = 0.05
    max_backoff: float = 1.0

    def delay(self, retry: int) -> float:
        """Sleep before extra attempt number `retry` (1-based): exponential, half jittered."""
        ceiling = min(self.max_backoff, self.backoff * 2.0 ** (retry - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # jitter, not crypto


@dataclass(frozen=True)
class OperationStatistics:
    """Counters of one operation since start-up (as `trio`'s `statistics()` objects are).

    `calls` counts invocations, `attempts` every try including retries, `failures` the calls
    that ended in an error (timeouts included), `timeouts` those that ended in a timeout, and
    `total_latency` the seconds spent in all calls, backoff included.
    """

    calls: int = 0
    attempts: int = 0
    failures: int = 0
    timeouts: int = 0
    total_latency: float = 0.0

    @property
    def mean_latency(self) -> float:
        return self.total_latency / self.calls if self.calls else 0.0


class StatisticsCounter:
    """The mutable side of `OperationStatistics`; only the policy writes to it."""

    def __init__(self) -> None:
        self._stats = OperationStatistics()

    def snapshot(self) -> OperationStatistics:
        return self._stats

    def record(self, *, attempts: int, latency: float, failed: bool, timed_out: bool) -> None:
        s = self._stats
        self._stats = OperationStatistics(
            calls=s.calls + 1,
            attempts=s.attempts + attempts,
            failures=s.failures + failed,
            timeouts=s.timeouts + timed_out,
            total_latency=s.total_latency + latency,
        )


def with_idempotency_key(args: Mapping[str, object], key: str | None) -> Mapping[str, object]:
    """Fill the idempotency parameter once, so that every retry passes the same value."""
    if key is None or args.get(key) not in (None, ""):
        return args
    return {**args, key: uuid.uuid4().hex}


async def call_with_policy(
    name: str,
    policy: RetryPolicy,
    attempt: Callable[[], Awaitable[object]],
    counter: StatisticsCounter,
) -> object:
    """Run `attempt` under `policy`; translate the outcome to the runtime's exceptions."""
    started = trio.current_time()
    run = _Attempts(name, policy)
    try:
        result = await run.until_done(attempt)
    except OperationError as exc:
        latency = trio.current_time() - started
        timed_out = isinstance(exc, OperationTimeout)
        counter.record(attempts=run.count, latency=latency, failed=True, timed_out=timed_out)
        raise
    counter.record(attempts=run.count, latency=trio.current_time() - started, failed=False, timed_out=False)
    return result


class _Attempts:
    def __init__(self, name: str, policy: RetryPolicy) -> None:
        self.name = name
        self.policy = policy
        self.count = 0

    async def until_done(self, attempt: Callable[[], Awaitable[object]]) -> object:
        for number in range(self.policy.retries + 1):
            if number:
                await trio.sleep(self.policy.delay(number))
            self.count += 1
            with trio.move_on_after(self.policy.timeout):
                try:
                    return await attempt()
                except BackendFailure as failure:
                    if not failure.retryable or number == self.policy.retries:
                        raise OperationError(self._message(f"failed: {failure}")) from failure
        raise OperationTimeout(self._message(f"timed out after {self.policy.timeout:g}s"))

    def _message(self, what: str) -> str:
        tries = f" ({self.count} attempts)" if self.count > 1 else ""
        return f"operation {self.name!r} {what}{tries}"
