"""The retry loop shared by menu, collect and confirm: tapered prompts, counted failures.

Try 1 plays `prompt`. A failed try ("no_input" or "no_match") counts against the node's
`max_retries`; the next try plays the prompt for that failure (`no_input_prompt`,
`no_match_prompt` or `invalid_prompt`), then `retry_prompt` (or `prompt` again). Type-ahead
is dropped after a failed try, so one stray key cannot fail the retry too. After
`1 + max_retries` failed tries the kind of the last failure picks the node's exit edge.
A global `repeat` key plays `prompt` again and counts no try; another global key ends the
loop (`Pressed`) for the node to follow (`ivr.runtime.steps._keys`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from ivr.flowlang.ir import Node, Prompt
from ivr.runtime.context import CallContext, Frame
from ivr.runtime.ports import ExpectedInput
from ivr.runtime.steps._keys import Pressed
from ivr.runtime.steps._prompts import speak

NO_INPUT = "no_input"
NO_MATCH = "no_match"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Failed:
    """A try (or, once retries are spent, the whole node) failed this way."""

    kind: str


@dataclass(frozen=True, slots=True)
class Asking:
    """What a node asks with: its prompts, failure prompts and retry allowance."""

    prompt: Prompt
    retry_prompt: Prompt | None
    failure_prompts: Mapping[str, Prompt | None]
    max_retries: int
    barge_in: bool = True
    expected: ExpectedInput | None = None  # told to legs that show what is asked (a chat)


async def ask(
    call: CallContext,
    frame: Frame,
    node: Node,
    asking: Asking,
    attempt: Callable[[], Awaitable[T | Failed | Pressed]],
) -> T | Failed | Pressed:
    """Prompt and `attempt` until it succeeds, a global key ends it or the retries are spent."""
    failure: Failed | None = None
    failures = 0
    while True:
        if failure is None:
            prompts: tuple[Prompt | None, ...] = (asking.prompt,)
        else:
            prompts = (asking.failure_prompts.get(failure.kind), asking.retry_prompt or asking.prompt)
        _hint(call, asking.expected)
        await speak(call, frame, node, prompts, barge_in=asking.barge_in)
        outcome = await attempt()
        if isinstance(outcome, Pressed):
            if outcome.key.action != "repeat":
                return outcome
            await call.event("input", node, outcome="global_key", key=outcome.key.name, action="repeat")
            call.leg.clear_digits()
            failure = None
            continue
        if not isinstance(outcome, Failed):
            return outcome
        failures += 1
        failure = outcome
        await call.event("input", node, outcome=failure.kind, attempt=failures)
        call.leg.clear_digits()
        if failures > asking.max_retries:
            return failure


def _hint(call: CallContext, expected: ExpectedInput | None) -> None:
    """Tell a leg that shows what is asked (`InputHints`) before the prompt of each try."""
    expect = getattr(call.leg, "expect", None)  # an attribute check, as for HangupNotice
    if expected is not None and callable(expect):
        expect(expected)
