"""Per-call state: the ports a call uses, its stack of flow frames, language and path.

The engine builds one `CallContext` per call; steps read and change it. A `Frame` is one
running flow (the top flow, or a subflow on the call stack) with its own variables. Secrets
are masked here, in one place: everything that leaves the engine (records, logs, prompts)
goes through `masked_scope` / `mask`, so a secret value is never traced or spoken.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

import trio

from ivr.flowlang.ir import ContextField, Flow, Node, Project
from ivr.runtime.memo import IdentityMemo
from ivr.runtime.outcomes import Ending
from ivr.runtime.ports import (
    AgentRouting,
    AnsweredBy,
    CallChannel,
    CallDirection,
    CallEvent,
    CallLeg,
    CallRecords,
    DataOperations,
    MessageChannels,
    WallClock,
)

MASK = "***"
MAX_STEPS = 10_000  # nodes per call: a loop with no caller input ends the call instead of spinning


class SystemClock:
    """The real wall clock, in UTC (calendars convert to their own time zone)."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class CallPorts:
    """The world as calls see it; one instance is shared by every call of an engine."""

    data: DataOperations
    channels: MessageChannels
    routing: AgentRouting
    records: CallRecords
    clock: WallClock = field(default_factory=SystemClock)


def channel_of(leg: CallLeg, direction: CallDirection) -> CallChannel:
    """A call we placed is `outbound`; a leg that says its channel (`ChannelLeg`: a web chat,
    an SMS conversation) that one; any other leg a phone call in."""
    if direction == "outbound":
        return "outbound"
    # What `isinstance(leg, ChannelLeg)` checks, without its cost: an isinstance against a
    # runtime-checkable Protocol took a seventh of the engine's time (it runs for every
    # expression's `call` scope).
    channel: CallChannel | None = getattr(leg, "channel", None)
    return "phone" if channel is None else channel


@dataclass(slots=True, eq=False)
class Frame:
    """One running flow: its variables and which of them are secret."""

    flow: Flow
    variables: dict[str, object]
    secrets: frozenset[str]

    @classmethod
    def start(cls, flow: Flow, inputs: Mapping[str, object]) -> Frame:
        initial, secrets = _declared(flow)
        variables = dict(initial)
        variables.update(inputs)
        return cls(flow, variables, secrets)

    def masked(self) -> dict[str, object]:
        """The variables with every secret shown as `***`."""
        return {k: (MASK if k in self.secrets and v is not None else v) for k, v in self.variables.items()}


def _declarations(flow: Flow) -> tuple[dict[str, object], frozenset[str]]:
    return {d.name: d.initial for d in flow.declarations()}, flow.secret_names()


# A flow's variables with their initial values, and which are secret: the same every call.
_declared = IdentityMemo(_declarations)


class Visit(NamedTuple):
    """One node run: which flow, which node, and the edge label it left by (None: it ended).
    A named tuple, not a frozen dataclass: two are made per node, and a tuple is made in a
    third of the time."""

    flow: str
    node: str
    edge: str | None


class Asked(NamedTuple):
    """An input node (menu, collect, confirm) the call entered, in which running flow: the
    history the global `back` key walks (`ivr.runtime.steps._keys`). A named tuple, as
    `Visit`: one is made at every input node.

    Two indexes into the history are worked out as the entry is made, so `back` costs the
    same at the thousandth input node of a call as at the second: `back`, where the key
    goes from this node (the latest earlier menu or collect that is not this node), and
    `latest`, the latest menu or collect up to and including this entry."""

    frame: Frame
    node: str
    kind: str
    back: int | None = None
    latest: int | None = None


@dataclass(slots=True, eq=False)
class CallContext:
    """Everything one call owns. Only its own task touches it."""

    leg: CallLeg
    ports: CallPorts
    project: Project
    language: str
    runner: Runner  # the interpreter loop, for subflows (kept here so steps never import the engine)
    stack: list[Frame] = field(default_factory=list)
    path: list[Visit] = field(default_factory=list)
    steps: int = 0
    direction: CallDirection = "inbound"
    answered_by: AnsweredBy = "person"
    asked: list[Asked] = field(default_factory=list)
    # flow name -> its `context` as last seen (masked), kept after the flow ends, latest last
    contexts: dict[str, list[tuple[ContextField, object]]] = field(default_factory=dict)

    @property
    def frame(self) -> Frame:
        return self.stack[-1]

    def pop_frame(self) -> Frame:
        """End the innermost running flow. Its input nodes leave the history `back` walks
        (`asked`): `back` never goes to a flow no longer running. They are the history's
        tail, since a flow's nodes are entered while it is innermost and the flows it
        called were popped first."""
        frame = self.stack.pop()
        asked = self.asked
        while asked and asked[-1].frame is frame:
            asked.pop()
        return frame

    def now(self) -> datetime:
        return self.ports.clock.now()

    @property
    def channel(self) -> CallChannel:
        """How the customer came (the record's, the screen pop's, the flow's `call.channel`)."""
        return channel_of(self.leg, self.direction)

    def call_info(self) -> dict[str, object]:
        leg = self.leg
        return {
            "channel": self.channel,
            "caller": leg.caller,
            "dialed": leg.dialed,
            "id": leg.call_id,
            "language": self.language,
            "direction": self.direction,
            "answered_by": self.answered_by,
        }

    def scope(self, frame: Frame, extra: Mapping[str, object] | None = None) -> dict[str, object]:
        """What expressions read: the frame's variables, `call`, and step extras (`result`)."""
        scope = dict(frame.variables)
        scope["call"] = self.call_info()
        if extra:
            scope.update(extra)
        return scope

    def masked_scope(self, frame: Frame) -> dict[str, object]:
        """The scope for text that leaves the engine (prompts, logs): secrets masked."""
        scope = frame.masked()
        scope["call"] = self.call_info()
        return scope

    def mask_mapping(self, values: Mapping[str, object]) -> dict[str, object]:
        return {k: self.mask(v) for k, v in values.items()}

    def mask(self, value: object) -> object:
        """`value` with any secret value of the call stack replaced by `***` (for records)."""
        secrets = {str(f.variables[n]) for f in self.stack for n in f.secrets if f.variables.get(n)}
        return _mask_values(value, secrets) if secrets else value

    def mask_text(self, text: str) -> str:
        """`text` with any secret value of the call stack replaced by `***` (for logs)."""
        return str(self.mask(text))

    def event(self, kind: str, node: Node | None, **detail: object) -> Coroutine[Any, Any, None]:
        """Write one call-record line (await it); `detail` must already be masked.

        Not itself a coroutine: it hands back the records port's own, so each of the several
        lines a node writes costs one coroutine fewer. The line (and its time) is made when
        this is called, which is when it is awaited."""
        event = CallEvent(self.leg.call_id, kind, self.now(), None if node is None else node.id, detail)
        return self.ports.records.call_event(event)

    def elapsed_since(self, start: float) -> int:
        """Milliseconds since a `trio.current_time()` reading (virtual time in tests)."""
        return round((trio.current_time() - start) * 1000)


Runner = Callable[[CallContext, Frame], Awaitable[Ending]]


def _mask_values(value: object, secrets: set[str]) -> object:
    if isinstance(value, Mapping):
        return {k: _mask_values(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_values(v, secrets) for v in value]
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, MASK)
        return value
    return MASK if str(value) in secrets else value
