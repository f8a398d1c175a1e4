"""The simulator: a call in the terminal. Prompts are printed as text, the caller types keys.

`TerminalLeg` is a `CallLeg` fed by lines (a line of keys, each character one key; an
empty line is silence; `h` or `hangup` hangs up; end of input hangs up too). Its
`feed_lines` task reads lines for the whole call, beside the engine, so reading never
blocks the call: while the engine waits for a key, the node's timeout runs in real time
whether or not the user types. A line waits, in order, for the read that wants it, so
piped input behaves like typing. With `fast`, silence takes no time: an empty line passes
the timeout at once, and reads wait for a line without a timeout (for scripted input).

`simulate` runs one call and prints the path as it goes (nodes entered, the global keys
that work at a menu, collect or confirm whenever they change, data operations with their
outcome, messages sent) and a summary at the end. The composition (which data
operations, how stdin is read) is the command's.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal

import trio

from ivr.flowlang.globalkeys import active_keys
from ivr.flowlang.ir import DTMF_KEYS, Collect, Confirm, Menu, Project
from ivr.runtime.context import CallPorts
from ivr.runtime.engine import CallOutcome, Engine
from ivr.runtime.ports import (
    AgentRouting,
    CallEnded,
    CallEvent,
    DataOperations,
    DeliveryError,
    DeliveryResult,
    MessageChannels,
    MessageOrigin,
    OutboundCall,
    Recording,
    SpokenPrompt,
    WallClock,
)
from ivr.runtime.testing import MemoryCallRecords, MemoryChannels, ScriptedRouting

ReadLine = Callable[[], Awaitable[str | None]]
Write = Callable[[str], None]
HANGUP_WORDS = ("h", "hangup")
SPOKEN = Decimal(5)  # seconds a typed line stands for while recording


class TerminalLeg:
    """A `CallLeg` on a line reader and a writer; `fast` makes silence take no time.
    Run `feed_lines` beside the call (`simulate` does)."""

    def __init__(
        self,
        read_line: ReadLine,
        write: Write,
        *,
        caller: str,
        dialed: str,
        fast: bool,
        on_secret: Callable[[bool], None] | None = None,
    ) -> None:
        self.call_id = "sim-1"
        self._on_secret = on_secret  # e.g. the terminal's echo off while a secret is keyed
        self.caller = caller
        self.dialed = dialed
        self._read_line, self._write, self._fast = read_line, write, fast
        self._lines_in, self._lines = trio.open_memory_channel[str | None](256)
        self._digits: deque[str] = deque()
        self._ended = False
        self._secret = False

    async def feed_lines(self) -> None:
        """Read lines until the end of input (then `None`), each kept for the next read."""
        async with self._lines_in:
            while True:
                line = await self._read_line()
                await self._lines_in.send(line)
                if line is None:
                    return

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
            ask = f"keys{' (secret)' if self._secret else ''}, {timeout}s> "
            keys = await self._keys(ask, timeout)
            if not keys:
                self._write(f"  (silence: {timeout}s passed)")
                return None
            self._digits.extend(keys)
        return self._digits.popleft()

    async def _keys(self, ask: str, timeout: Decimal) -> str | None:
        """The keys of the next line, or None when `timeout` passes first. An empty line is
        silence: the rest of the timeout passes (at once when `fast`)."""
        deadline = trio.current_time() + float(timeout)
        with trio.move_on_at(float("inf") if self._fast else deadline):
            keys = await self._line(ask)
            if not keys and not self._fast:
                await trio.sleep_until(deadline)
            return keys
        return None

    async def _line(self, ask: str) -> str:
        self._write(ask)
        try:
            line = await self._lines.receive()
        except trio.EndOfChannel:
            line = None
        if line is None or line.strip().lower() in HANGUP_WORDS:
            self._ended = True
            self._write("  (you hung up)")
            raise CallEnded(self.call_id)
        keys = "".join(ch for ch in line.strip() if ch in DTMF_KEYS)
        if len(keys) != len(line.strip()):
            taken = "*" * len(keys) if self._secret else keys  # a secret entry is never echoed
            self._write(f"  (only keys 0-9 * # count; taken: {taken!r})")
        return keys

    def clear_digits(self) -> None:
        self._digits.clear()

    async def record(
        self, *, max_length: Decimal, stop_key: str | None, beep: bool, recording_id: str
    ) -> Recording:
        """A typed line is a spoken message; an empty line, or nothing within `max_length`
        (real time unless `fast`), is a caller who said nothing."""
        self._check()
        ask = f"(recording up to {max_length}s: type any keys to speak, empty line for silence)> "
        line = await self._keys(ask, max_length)
        if not line:
            return Recording(recording_id, Decimal(0), None, "silence")
        return Recording(recording_id, min(max_length, SPOKEN), None, "key")

    def set_secret_entry(self, active: bool) -> None:
        self._secret = active
        if self._on_secret is not None:
            self._on_secret(active)

    def output_closed(self) -> None:
        """The terminal is gone (a closed pipe): from now on the caller has hung up."""
        self._ended = True

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


class TerminalChannels:
    """`MessageChannels` that print each message queued (or refused) and each wait's result,
    around another implementation (by default `MemoryChannels`: nothing leaves the process)."""

    def __init__(self, write: Write, inner: MessageChannels | None = None) -> None:
        self._write = write
        self._inner = inner or MemoryChannels()

    async def send(
        self,
        channel: str,
        to: str,
        message: str | None,
        document: object | None,
        *,
        origin: MessageOrigin | None = None,
    ) -> str:
        what = " ".join(p for p in (repr(message) if message else "", _document(document)) if p)
        try:
            delivery = await self._inner.send(channel, to, message, document, origin=origin)
        except DeliveryError as exc:
            self._write(f"  [send {channel} to {to}: {what}: refused: {exc}]")
            raise
        self._write(f"  [send {channel} to {to}: {what}: queued, {delivery}]")
        return delivery

    async def wait_delivery(self, delivery_id: str, timeout: Decimal) -> DeliveryResult:
        result = await self._inner.wait_delivery(delivery_id, timeout)
        self._write(f"  [delivery {delivery_id}: {result}]")
        return result


def _document(document: object | None) -> str:
    if document is None:
        return ""
    text = str(document)
    return f"(document {text[:60]}{'...' if len(text) > 60 else ''})"


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
    channels: MessageChannels | None = None,
    outbound: OutboundCall | None = None,
) -> CallOutcome:
    """Run one call on the terminal leg, printing each node entered, each data operation with
    its outcome, each message sent, and a final summary."""

    keys_shown: list[str] = ["none"]

    def show(event: CallEvent) -> None:
        detail = event.detail
        if event.kind == "node_entered":
            write(f"-> {event.node}")
            keys = global_keys_text(project, str(detail.get("flow")), str(event.node))
            if keys is not None and keys != keys_shown[0]:
                keys_shown[0] = keys
                write(f"  (keys that work here: {keys})")
        elif event.kind == "operation":
            given = detail.get("args")
            args = ", ".join(f"{k}={v!r}" for k, v in given.items()) if isinstance(given, Mapping) else ""
            write(f"  [{detail.get('name')}({args}): {detail.get('outcome')}, {detail.get('latency_ms')} ms]")

    records = MemoryCallRecords(on_event=show, keep_events=False)
    outbox = TerminalChannels(write, channels)
    ports = CallPorts(data, outbox, routing or ScriptedRouting(), records, clock)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(leg.feed_lines)
        outcome = await Engine(project, ports).run_call(leg, flow, language=language, outbound=outbound)
        nursery.cancel_scope.cancel()
    write(summary(outcome))
    return outcome


def global_keys_text(project: Project, flow_name: str, node_id: str) -> str | None:
    """ "0 agent, * back, # repeat" at an input node (`none` when all are off), else None."""
    flow = project.flows.get(flow_name)
    node = flow.nodes.get(node_id) if flow is not None else None
    if flow is None or not isinstance(node, Menu | Collect | Confirm):
        return None
    keys = active_keys(project.service, flow, node)
    return ", ".join(f"{k.key} {k.name}" for k in keys) or "none"


def summary(outcome: CallOutcome) -> str:
    path = " -> ".join(v.node for v in outcome.path) or "(none)"
    lines = [f"call ended: {outcome.how}", f"path: {path}"]
    if outcome.failure:
        lines.append(f"failure: {outcome.failure}")
    lines.append("variables: " + _show(outcome.variables))
    return "\n".join(lines)


def _show(values: Mapping[str, object]) -> str:
    return ", ".join(f"{k}={v!s}" for k, v in values.items()) or "(none)"
