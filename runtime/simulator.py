"""The simulator: a call in the terminal. Prompts are printed as text, the caller types keys.

`TerminalLeg` is a `CallLeg` fed by lines (a line of keys, each character one key; an
empty line is silence for the node's timeout; `h` or `hangup` hangs up; end of input
hangs up too). Lines are read only when the engine waits for a key, so piped input
behaves exactly like typing. `simulate` runs one call and prints the path as it goes and
a summary at the end. The composition (which data operations, stdin) is the command's.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal

import trio

from ivr.flowlang.ir import DTMF_KEYS, Project
from ivr.runtime.context import CallPorts
from ivr.runtime.engine import CallOutcome, Engine
from ivr.runtime.ports import (
    AgentRouting,
    CallEnded,
    CallEvent,
    DataOperations,
    Recording,
    SpokenPrompt,
    WallClock,
)
from ivr.runtime.testing import MemoryCallRecords, MemoryChannels, ScriptedRouting

ReadLine = Callable[[], Awaitable[str | None]]
Write = Callable[[str], None]
HANGUP_WORDS = ("h", "hangup")


class TerminalLeg:
    """A `CallLeg` on a line reader and a writer; `fast` makes silence take no time."""

    def __init__(self, read_line: ReadLine, write: Write, *, caller: str, dialed: str, fast: bool) -> None:
        self.call_id = "sim-1"
        self.caller = caller
        self.dialed = dialed
        self._read_line, self._write, self._fast = read_line, write, fast
        self._digits: deque[str] = deque()
        self._ended = False
        self._secret = False

    async def play(self, prompt: SpokenPrompt, *, barge_in: bool) -> bool:
        self._check()
        audio = f" [{prompt.audio}]" if prompt.audio else ""
        self._write(f"  ({prompt.language}) {prompt.text}{audio}")
        await trio.lowlevel.checkpoint()
        if barge_in and self._digits:
            self._write("  (cut short by a key)")
            return True
        return False

    async def read_digit(self, timeout: Decimal) -> str | None:
        self._check()
        if not self._digits:
            line = await self._line(f"keys{' (secret)' if self._secret else ''}, {timeout}s> ")
            if not line:
                if not self._fast:
                    await trio.sleep(float(timeout))
                self._write(f"  (silence: {timeout}s passed)")
                return None
            self._digits.extend(line)
        return self._digits.popleft()

    async def _line(self, ask: str) -> str:
        self._write(ask)
        line = await self._read_line()
        if line is None or line.strip().lower() in HANGUP_WORDS:
            self._ended = True
            self._write("  (you hung up)")
            raise CallEnded(self.call_id)
        keys = "".join(ch for ch in line.strip() if ch in DTMF_KEYS)
        if len(keys) != len(line.strip()):
            self._write(f"  (only keys 0-9 * # count; taken: {keys!r})")
        return keys

    def clear_digits(self) -> None:
        self._digits.clear()

    async def record(
        self, *, max_length: Decimal, stop_key: str | None, beep: bool, recording_id: str
    ) -> Recording:
        self._check()
        line = await self._line(
            f"(recording up to {max_length}s: type any keys to speak, empty line for silence)> "
        )
        duration = Decimal(min(max_length, Decimal(5))) if line else Decimal(0)
        return Recording(recording_id, duration, None, "key" if line else "silence")

    def set_secret_entry(self, active: bool) -> None:
        self._secret = active

    async def transfer(self, destination: str, *, mode: str, timeout: Decimal) -> bool:
        self._check()
        self._write(f"  (transfer to {destination}, {mode})")
        await trio.lowlevel.checkpoint()
        return True

    async def hangup(self) -> None:
        self._ended = True
        self._write("  (the flow hung up)")
        await trio.lowlevel.checkpoint()

    def _check(self) -> None:
        if self._ended:
            raise CallEnded(self.call_id)


async def simulate(
    project: Project,
    flow: str,
    leg: TerminalLeg,
    write: Write,
    *,
    data: DataOperations,
    clock: WallClock,
    language: str | None = None,
    routing: AgentRouting | None = None,
) -> CallOutcome:
    """Run one call on the terminal leg, printing each node entered and a final summary."""

    def show(event: CallEvent) -> None:
        if event.kind == "node_entered":
            write(f"-> {event.node}")
        elif event.kind == "operation":
            write(f"  [{event.detail.get('name')}: {event.detail.get('outcome')}]")

    records = MemoryCallRecords(on_event=show, keep_events=False)
    ports = CallPorts(data, MemoryChannels(), routing or ScriptedRouting(), records, clock)
    outcome = await Engine(project, ports).run_call(leg, flow, language=language)
    write(summary(outcome))
    return outcome


def summary(outcome: CallOutcome) -> str:
    path = " -> ".join(v.node for v in outcome.path) or "(none)"
    lines = [f"call ended: {outcome.how}", f"path: {path}"]
    if outcome.failure:
        lines.append(f"failure: {outcome.failure}")
    lines.append("variables: " + _show(outcome.variables))
    return "\n".join(lines)


def _show(values: Mapping[str, object]) -> str:
    return ", ".join(f"{k}={v!s}" for k, v in values.items()) or "(none)"
