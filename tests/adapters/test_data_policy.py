"""The retry policy on a virtual clock: timeouts, retries, backoff, statistics, idempotency."""

from __future__ import annotations

import pytest
import trio

from ivr.adapters.data.errors import BackendFailure
from ivr.adapters.data.policy import RetryPolicy, StatisticsCounter, call_with_policy, with_idempotency_key
from ivr.runtime.ports import OperationError, OperationTimeout


class Script:
    """A backend attempt that plays a script of outcomes: a value, an exception, or "hang"."""

    def __init__(self, *outcomes: object) -> None:
        self.outcomes = list(outcomes)
        self.attempts = 0

    async def __call__(self) -> object:
        self.attempts += 1
        outcome = self.outcomes.pop(0)
        if outcome == "hang":
            await trio.sleep_forever()
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def transient() -> BackendFailure:
    return BackendFailure("connection refused", retryable=True)


async def test_success_on_first_attempt_is_counted(autojump_clock: object) -> None:
    counter = StatisticsCounter()
    assert await call_with_policy("quote", RetryPolicy(timeout=1, retries=2), Script("ok"), counter) == "ok"
    stats = counter.snapshot()
    assert (stats.calls, stats.attempts, stats.failures, stats.timeouts) == (1, 1, 0, 0)


async def test_retries_a_transient_failure_then_succeeds(autojump_clock: object) -> None:
    script = Script(transient(), transient(), {"cash": 5})
    result = await call_with_policy("cash", RetryPolicy(timeout=1, retries=2), script, StatisticsCounter())
    assert result == {"cash": 5}
    assert script.attempts == 3


async def test_permanent_failure_is_not_retried_and_names_the_operation(autojump_clock: object) -> None:
    script = Script(BackendFailure("syntax error near FROM", retryable=False), "never")
    with pytest.raises(OperationError, match="operation 'cash' failed: syntax error near FROM") as info:
        await call_with_policy("cash", RetryPolicy(timeout=1, retries=3), script, StatisticsCounter())
    assert not isinstance(info.value, OperationTimeout)
    assert script.attempts == 1


async def test_every_attempt_timing_out_raises_operation_timeout(autojump_clock: object) -> None:
    counter = StatisticsCounter()
    script = Script("hang", "hang", "hang")
    start = trio.current_time()
    with pytest.raises(OperationTimeout, match=r"operation 'quote' timed out after 2s \(3 attempts\)"):
        await call_with_policy("quote", RetryPolicy(timeout=2, retries=2, backoff=0.1), script, counter)
    elapsed = trio.current_time() - start
    assert script.attempts == 3
    assert 6 <= elapsed <= 6 + 0.1 + 0.2  # three timeouts plus at most the two backoffs
    stats = counter.snapshot()
    assert (stats.calls, stats.attempts, stats.failures, stats.timeouts) == (1, 3, 1, 1)
    assert stats.total_latency == pytest.approx(elapsed)


async def test_a_timeout_then_a_final_error_raises_operation_error(autojump_clock: object) -> None:
    script = Script("hang", transient())
    with pytest.raises(OperationError) as info:
        await call_with_policy("quote", RetryPolicy(timeout=1, retries=1), script, StatisticsCounter())
    assert not isinstance(info.value, OperationTimeout)


async def test_a_timeout_then_success_returns_the_value(autojump_clock: object) -> None:
    script = Script("hang", "late but fine")
    result = await call_with_policy("q", RetryPolicy(timeout=1, retries=1), script, StatisticsCounter())
    assert result == "late but fine"


def test_backoff_grows_exponentially_up_to_the_cap() -> None:
    policy = RetryPolicy(timeout=1, retries=5, backoff=0.1, max_backoff=0.5)
    for retry, ceiling in [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.5), (5, 0.5)]:
        assert ceiling / 2 <= policy.delay(retry) <= ceiling


def test_idempotency_key_is_filled_once_and_kept_when_given() -> None:
    filled = with_idempotency_key({"amount": 5}, "order_key")
    assert isinstance(filled["order_key"], str) and len(filled["order_key"]) == 32
    assert with_idempotency_key({"order_key": "abc"}, "order_key") == {"order_key": "abc"}
    assert with_idempotency_key({"amount": 5}, None) == {"amount": 5}
