"""The runtime's ports: the only ways the call engine touches the world.

Adapters (`ivr.adapters`) implement these for real (SIP, SQLite, HTTP, TTS); `ivr.runtime.testing`
ships in-memory implementations as real code, and conformance tests hold both to the same
behaviour. Everything here is a `Protocol` or a small value type; no I/O happens in this module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal, Protocol, runtime_checkable

from ivr.flowlang.ir import TransferMode as TransferMode
from ivr.runtime.campaigns.model import (
    Attempt,
    AttemptOutcome,
    CampaignRun,
    Contact,
    RunRecords,
    RunState,
    Skip,
)

CallEnding = Literal[
    "completed", "transferred", "agent", "callback", "caller_hangup", "failed", "interrupted"
]
"""How a call ended, as the call record stores it: the flow finished (`completed`), handed
the caller off (`transferred`) or to an agent who talked with them (`agent`); the caller hung
up; the caller chose to be called back and kept their place in the queue (`callback`); the
call failed (a bug or a missing edge; the fallback prompt played); or the process
stopped under it (`interrupted`, also what start-up writes for calls a crash left open)."""

QueueOutcome = Literal["completed", "timeout", "overflow", "no_agents", "callback"]
"""What `AgentRouting.enqueue` returns: an agent talked with the caller; the wait limit
passed; the queue was full; no logged-in agent has the skills; the caller pressed the
callback key and hung up, keeping their place (`callback`)."""

RingResult = Literal["answered", "no_answer", "busy", "failed"]
"""What `AgentConnector.ring` returns for one offer to one agent."""

RecordingEnd = Literal["key", "silence", "max_length", "hangup", "call"]
"""Why a `record` node's recording stopped (`call`: a segment of a whole-call recording)."""

CallDirection = Literal["inbound", "outbound"]
"""Who placed the call: the caller (`inbound`) or a campaign or notification (`outbound`)."""

CallChannel = Literal["phone", "outbound", "chat", "sms"]
"""How the customer reached us, as call records, reports and the screen pop show it: a
phone call in (`phone`, also what records from before channels were kept read as), a call
we placed (`outbound`: a campaign or a notification), a web chat, or a text message."""

CHANNELS: tuple[CallChannel, ...] = ("phone", "outbound", "chat", "sms")

AnsweredBy = Literal["person", "machine"]
"""Who took an outbound call, as answering-machine detection judged (inbound: a person)."""
DeliveryResult = Literal["sent", "failed", "pending"]
"""What `MessageChannels.wait_delivery` returns: the channel's gateway accepted the message
(`sent`: an SMTP server's 250, an SMS gateway's success answer; not proof it reached the
handset or inbox); it was refused or given up for good (`failed`: dead-lettered); or no
final answer yet within the wait (`pending`: still queued, being retried, or in doubt)."""


class CallEnded(Exception):
    """The far end hung up (or the network went silent). Raised by a call leg's methods;
    the engine unwinds the call and writes how it ended. Never an error of the flow."""


class OperationError(Exception):
    """A data operation failed (after its retries). The flow takes its `on_error` edge."""


class OperationTimeout(OperationError):
    """A data operation took longer than its timeout. The flow takes its `on_timeout` edge
    (or `on_error` when it has none)."""


class DeliveryError(Exception):
    """A message channel refused a message (unknown channel, bad address, nothing to send,
    a document it cannot carry) or could not queue it: the `send` node's `on_error` edge."""


@dataclass(frozen=True)
class SpokenPrompt:
    """One prompt ready to play: the text (already rendered, never containing a secret) in a
    language, and/or an audio file. `audio` wins when the leg can play files."""

    text: str
    language: str
    audio: str | None = None


@dataclass(frozen=True)
class Recording:
    """What a `record` node captured; `path` is None on legs that keep no audio."""

    recording_id: str
    duration: Decimal
    path: str | None
    ended_by: RecordingEnd


# Keys a leg keeps unread (type-ahead): enough for the longest entry typed ahead (an
# account, a PIN and an amount), small enough that a caller flooding keys holds no memory.
TYPE_AHEAD_LIMIT = 64


class CallLeg(Protocol):
    """One caller's side of a call, as the engine sees it.

    Digits arrive in a buffer: a key pressed while a prompt plays is kept (type-ahead) and
    returned by the next `read_digit`; at most `TYPE_AHEAD_LIMIT` unread keys are kept, and
    keys pressed while it is full are dropped. `play` returns early (barge-in) when `barge_in` is set
    and a digit arrives; it returns True if it was cut short. All methods raise `CallEnded`
    once the far end is gone.
    """

    @property
    def call_id(self) -> str: ...

    @property
    def caller(self) -> str: ...

    @property
    def dialed(self) -> str: ...

    async def play(self, prompt: SpokenPrompt, *, barge_in: bool) -> bool: ...

    async def read_digit(self, timeout: Decimal) -> str | None:
        """The next buffered or arriving digit, or None after `timeout` seconds of silence."""
        ...

    def clear_digits(self) -> None:
        """Drop type-ahead (used before a secret entry and after a failed try)."""
        ...

    async def record(
        self, *, max_length: Decimal, stop_key: str | None, beep: bool, recording_id: str
    ) -> Recording: ...

    def set_secret_entry(self, active: bool) -> None:
        """Mark the span where the caller keys a secret: recordings silence it, traces mask it."""
        ...

    async def transfer(self, destination: str, *, mode: TransferMode, timeout: Decimal) -> bool:
        """Bridge or blind-transfer the caller; True when connected and finished normally."""
        ...

    async def hangup(self) -> None: ...


@runtime_checkable
class ChannelLeg(Protocol):
    """A leg that is not a phone call says which channel it is (a chat, an SMS conversation):
    the engine then records the call with that channel (docs/channels.md)."""

    @property
    def channel(self) -> CallChannel: ...


class DataOperations(Protocol):
    """Named data operations declared in the service (SQL, HTTP, Python plug-ins).
    Implementations apply each operation's timeout and retry policy and raise
    `OperationTimeout` / `OperationError`; any other exception is a bug in the adapter."""

    async def invoke(self, name: str, args: Mapping[str, object]) -> object: ...


@dataclass(frozen=True)
class MessageOrigin:
    """Where a message came from, stored with it so an operator can find a call's messages."""

    call_id: str
    flow: str
    node: str


class MessageChannels(Protocol):
    """SMS, e-mail and fax-style delivery by channel name, through a durable outbox.

    `send` only queues: it validates the message for its channel and returns its delivery
    id once the message is durable (so "will be sent" is true), or raises `DeliveryError`.
    Delivery happens after, with retries; `wait_delivery` waits a bounded time for the
    gateway's answer. `ivr.runtime.testing.MemoryChannels` is the in-memory implementation
    and `ivr.runtime.testing.messages_conformance` the checks every implementation passes.
    """

    async def send(
        self,
        channel: str,
        to: str,
        message: str | None,
        document: object | None,
        *,
        origin: MessageOrigin | None = None,
    ) -> str:
        """Queue durably and return the delivery id; `DeliveryError` when refused."""
        ...

    async def wait_delivery(self, delivery_id: str, timeout: Decimal) -> DeliveryResult:
        """The message's result once final, or "pending" after `timeout` seconds without
        one. Returns at once for a message already final. `DeliveryError` for an unknown id."""
        ...


FlowEnding = Literal["returned", "failed", "hung_up", "finished"]
"""How a flow an agent sent the caller into ended: it returned (with its own outcome); it
failed (a bug, a missing edge, a broken input); the caller hung up in it; or it finished
the call itself (a flow that hangs up: the checker refuses those for agent flows)."""


@dataclass(frozen=True)
class FlowResult:
    """What comes back to the agent from a flow: the flow's own `outcome` (the `return`
    node's, when `ending` is "returned") and its declared outputs, every secret masked."""

    flow: str
    ending: FlowEnding
    outcome: str | None = None
    outputs: Mapping[str, object] = field(default_factory=dict)


class FlowRefused(Exception):
    """The flow cannot be run for the caller: the service does not let agents send callers
    into it, or an input it requires is missing or of the wrong kind. Nothing was run."""


class CallFlows(Protocol):
    """Runs, on a queued caller's own call, the flows an agent may send the caller into
    (`agent_flows:` in the service). The engine hands one to the ACD with each `enqueue`;
    the agent connector uses it while the caller talks with an agent."""

    def check(self, flow: str, inputs: Mapping[str, object]) -> None:
        """Raise `FlowRefused` (with the reason) unless `run` would start `flow` with these
        inputs; inputs the flow does not declare are ignored."""
        ...

    async def run(self, flow: str, inputs: Mapping[str, object]) -> FlowResult:
        """Run `flow` to its end on the caller's call (prompts, keys, records, secrets as in
        any flow). Raises `CallEnded` if the caller hangs up, `FlowRefused` as `check`."""
        ...


@dataclass(frozen=True)
class CallbackOffer:
    """An `enqueue` node's `callback:` offer, rendered: once the wait passes `after` seconds
    (expected or actual), `prompt` plays and a caller who presses `key` within
    `listen` seconds keeps their place and is called back on `number` (the queue answers
    "callback")."""

    key: str
    after: Decimal
    prompt: SpokenPrompt
    number: str
    listen: Decimal = Decimal(5)


@dataclass(frozen=True)
class QueueRequest:
    """What an `enqueue` node asks of the ACD. `data` is the screen pop (already masked);
    `language` is the call's language (announcements speak it); `path` is the caller's way
    through the IVR so far (`flow.node:edge` steps, for the agent's screen); `flows` runs
    the flows an agent may send the caller into (None: the agent cannot); `channel` is how
    the customer came (the screen pop shows it)."""

    queue: str
    skills: Sequence[str]
    priority: int
    data: Mapping[str, object]
    max_wait: Decimal | None
    language: str = ""
    path: Sequence[str] = ()
    flows: CallFlows | None = None
    callback: CallbackOffer | None = None
    channel: CallChannel = "phone"


CallbackStep = Literal[
    "offered",
    "accepted",
    "dialled",
    "answered",
    "busy",
    "no_answer",
    "failed",
    "machine",
    "yielded",
    "no_channel",
    "connected",
    "hung_up",
    "gave_up",
]
"""One step of a queue callback, as the callback journal stores it: the offer played; the
caller pressed the key (the place is kept); a call to the customer went out; how it went
(answered, or busy / no_answer / failed / machine / yielded: not reached); no idle trunk
channel (not dialled, retried soon); the customer talked with an agent (`connected`) or hung
up before one answered (`hung_up`); the retries are spent (`gave_up`)."""


@dataclass(frozen=True)
class KeptPlace:
    """A caller's kept place in a queue, durable until it is served or given up: the ACD
    reads these back at start-up, in `accepted_at` order, ahead of any new caller."""

    call_id: str
    queue: str
    skills: Sequence[str]
    priority: int
    number: str
    accepted_at: datetime
    screen: Mapping[str, object] = field(default_factory=dict)
    attempts: int = 0  # callback calls placed so far


class CallbackJournal(Protocol):
    """The durable record of queue callbacks (`ivr.adapters.storage.callbacks` on SQLite;
    `ivr.runtime.testing.callbacks` in memory). `keep` returns once the place is durable
    (before the caller hears "we will call you back"); a place stays pending until a step
    `connected`, `hung_up` or `gave_up` closes it."""

    async def keep(self, place: KeptPlace) -> None: ...

    async def step(self, call_id: str, step: CallbackStep, at: datetime, detail: str = "") -> None: ...

    async def pending(self) -> list[KeptPlace]: ...


class AgentRouting(Protocol):
    """The ACD: waits for an agent, connects the call, and returns how it went."""

    async def enqueue(self, leg: CallLeg, request: QueueRequest) -> QueueOutcome: ...


@dataclass(frozen=True, init=False)
class CallEvent:
    """One line of a call record. `detail` never holds a secret value (the engine masks)."""

    call_id: str
    kind: str  # "node_entered", "node_left", "input", "operation", "prompt", "log", ...
    at: datetime
    node: str | None = None
    detail: Mapping[str, object] = field(default_factory=dict)

    def __init__(
        self,
        call_id: str,
        kind: str,
        at: datetime,
        node: str | None = None,
        detail: Mapping[str, object] | None = None,
    ) -> None:
        # Written straight into the instance's dict: a frozen dataclass's own __init__ sets
        # each field through object.__setattr__, three times slower, and a call writes
        # several of these per node (docs/design.md, "Engine cost").
        fields = self.__dict__
        fields["call_id"], fields["kind"], fields["at"] = call_id, kind, at
        fields["node"], fields["detail"] = node, {} if detail is None else detail


class CallRecords(Protocol):
    """Durable call records, written as the call goes. `call_ended` returns only once the
    record is durable; a call without an end found at start-up is closed as "interrupted"."""

    async def call_started(
        self,
        call_id: str,
        *,
        flow: str,
        caller: str,
        dialed: str,
        at: datetime,
        channel: CallChannel = "phone",
    ) -> None:
        """Open the call's record. The engine gives `channel` only for a call that is not a
        phone call in (`outbound`, `chat`, `sms`), so a store may leave it out if it keeps none."""
        ...

    async def call_event(self, event: CallEvent) -> None: ...

    async def call_ended(self, call_id: str, *, how: CallEnding, at: datetime) -> None: ...

    async def store_recording(
        self, call_id: str, recording: Recording, metadata: Mapping[str, object]
    ) -> None:
        """Link a recording with its metadata to the call; durable on return."""
        ...


class WallClock(Protocol):
    """The time of day, for `schedule` nodes, expressions' `now()` and record timestamps.
    Production uses the system clock; tests pin it (`ivr.runtime.testing.VirtualWallClock`)."""

    def now(self) -> datetime: ...


@dataclass(frozen=True)
class ExpectedInput:
    """What the flow waits for next, for legs that show it (a chat shows a menu's keys as
    buttons and a collect as a text box): the node's `kind` ("menu", "collect",
    "confirm"), the keys that answer it (menu options, confirm keys; empty for a collect),
    a collect's `max_length` and `terminator`, whether the entry is `secret`, and the global
    keys that work there as (key, name) pairs, such as ("0", "agent")."""

    kind: str
    keys: tuple[str, ...] = ()
    max_length: int = 0
    terminator: str | None = None
    secret: bool = False
    global_keys: tuple[tuple[str, str], ...] = ()


@runtime_checkable
class InputHints(Protocol):
    """Optional for a `CallLeg`: told what input each menu, collect and confirm waits for,
    before each try. Legs without it get only prompts and reads (the telephone)."""

    def expect(self, expected: ExpectedInput) -> None: ...


@runtime_checkable
class HangupWatch(Protocol):
    """Optional for a `CallLeg`: lets the engine notice a hang-up while the call is busy
    elsewhere (a data lookup, a queue) and cancel that work at once. Legs without it are
    still correct; the hang-up is then seen at the next leg operation."""

    async def wait_ended(self) -> None:
        """Return once the far end has gone."""
        ...


@runtime_checkable
class HangupNotice(Protocol):
    """Optional for a `CallLeg`, and what the engine prefers to `HangupWatch`: the same
    notice as a callback, so noticing a hang-up costs no watching task per call."""

    def on_hangup(self, callback: Callable[[], object]) -> None:
        """Call `callback` once, in trio, when the far end hangs up (never when we hung up);
        at once if it already has."""
        ...


@dataclass(frozen=True)
class AgentEndpoint:
    """Where an ACD agent takes calls: `address` is the SIP address of the agent's phone."""

    agent_id: str
    address: str


class AgentConnector(Protocol):
    """How the ACD (`ivr.runtime.acd`) reaches an agent for a queued caller, in two steps so
    the ACD knows the moment the agent answered (wait time, handle time, wrap-up).

    A SIP adapter rings the agent's phone in `ring` and bridges the audio in `bridge`;
    `ivr.runtime.testing.acd.MemoryAgentConnector` answers per script on the trio clock.
    Cancelling either method must stop ringing / hang up the agent's side.
    """

    async def ring(
        self, leg: CallLeg, agent: AgentEndpoint, *, ring_timeout: Decimal, screen: Mapping[str, object]
    ) -> RingResult:
        """Offer the call (with `screen` data for the desktop): "answered", "no_answer" (after
        `ring_timeout` seconds), "busy" or "failed". Raises `CallEnded` if the caller hangs up."""
        ...

    async def bridge(self, leg: CallLeg, agent: AgentEndpoint, *, flows: CallFlows | None = None) -> None:
        """Connect the caller with the agent who answered `ring`; return when either side hangs
        up (the caller hanging up is the normal end here, not `CallEnded`). With `flows`, the
        agent may send the caller into a flow meanwhile and get the caller back."""
        ...


@dataclass(frozen=True)
class OutboundCall:
    """What an outbound flow knows of its call: the contact's fields (`contact.<field>`),
    the campaign (`campaign.name`, `.run`, `.attempt`) and who answered (`call.answered_by`).
    The flow's `disposition` comes back in the call's outcome."""

    contact: Mapping[str, object]
    campaign: Mapping[str, object]
    answered_by: AnsweredBy = "person"


DialOutcome = Literal["answered", "machine", "busy", "no_answer", "failed", "yielded"]
"""How one outbound call attempt went: a person answered (the flow ran); an answering
machine answered (after the beep the flow ran as the message, or we hung up); the line was
busy (486, 600, 603); nobody answered before the ring timeout (or 408, 480); or the call
failed (503, another final status, no audio, the trunk refused)."""


@dataclass(frozen=True)
class DialRequest:
    """One attempt to call `number` through `trunk`. `attempt_id` is unique per attempt and
    goes out with the INVITE (`X-IVR-Attempt`), so the far end can tell a retry from a
    duplicate."""

    attempt_id: str
    number: str
    trunk: str
    ring_timeout: Decimal = Decimal(30)
    detect_machines: bool = True
    leave_message: bool = False  # on a machine: run the flow after the beep (else hang up)
    yield_answered: bool = True  # once answered, may it be hung up for an inbound caller?


@dataclass(frozen=True)
class DialResult:
    outcome: DialOutcome
    status: int = 0  # the SIP final status, 0 when none came
    reason: str = ""
    ran_flow: bool = False


class Answered(Protocol):
    """What a dialer does with an answered call: run the flow on the leg (the dialer hangs
    up afterwards)."""

    async def __call__(self, leg: CallLeg, answered_by: AnsweredBy) -> None: ...


class Dialer(Protocol):
    """Places outbound calls (SIP trunks in `ivr.adapters.dialer`; scripted in
    `ivr.runtime.testing.dialer`). `free_channels` is the idle-capacity rule: how many new
    calls the trunk takes now, after inbound calls, their reserve and the calls already out."""

    def free_channels(self, trunk: str) -> int: ...

    async def call(self, request: DialRequest, answered: Answered) -> DialResult:
        """Dial, wait for an answer (machine detection included), run `answered` on a
        person (or a machine, with `leave_message`), hang up; never raises for the callee's
        doing. Cancelled, it hangs up (CANCEL or BYE) before returning."""
        ...


class CampaignStore(Protocol):
    """Durable campaign runs (`ivr.runtime.campaigns`): every write returns once it is on
    disk, so the runner stores each attempt before it dials and each outcome before the
    next decision. SQLite in `ivr.adapters.storage.campaigns`; in memory in
    `ivr.runtime.testing.campaigns`; both pass `ivr.runtime.testing.campaign_store_contract`.
    The values are those of `ivr.runtime.campaigns.model`."""

    async def create_run(self, run: CampaignRun, contacts: Sequence[Contact]) -> None:
        """Store a new run with its contacts; `StoreConflict` if the run id exists."""
        ...

    async def add_contacts(self, run_id: str, contacts: Sequence[Contact], at: datetime) -> list[str]:
        """Store contacts added to a run that exists and is not `stopped` (else
        `StoreConflict`), in one write; a contact whose id the run has already is left as
        it is (a retried add stores nothing twice). The ids newly stored; a `completed`
        run that gets one is `running` again in the same write."""
        ...

    async def runs(self) -> list[CampaignRun]: ...

    async def load(self, run_id: str) -> RunRecords | None: ...

    async def set_state(self, run_id: str, state: RunState, at: datetime) -> None: ...

    async def begin_attempt(self, attempt: Attempt) -> None:
        """Store an attempt about to be dialled; `StoreConflict` if its id exists (an
        attempt is never placed twice)."""
        ...

    async def finish_attempt(
        self,
        attempt_id: str,
        outcome: AttemptOutcome,
        at: datetime,
        *,
        disposition: str | None = None,
        ran_flow: bool = False,
        detail: str = "",
    ) -> None:
        """Store how an open attempt ended; `StoreConflict` if it is unknown or ended."""
        ...

    async def skip(self, skip: Skip) -> None: ...

    async def recover(self, at: datetime) -> list[str]:
        """Close every attempt left open (the process stopped under it) as "interrupted";
        their ids. Run once at start-up, before any run is resumed."""
        ...

    async def add_do_not_call(self, number: str, at: datetime, *, source: str) -> None: ...

    async def do_not_call(self) -> set[str]: ...


class StoreConflict(Exception):
    """A campaign store refused a write that would break its promises (a run or attempt
    that exists already, an outcome for an attempt that is not open)."""
