"""The compiled flow: frozen dataclasses that the compiler emits and everything else reads.

This is the contract between `flowlang` (which builds it from YAML and checks it), the
drawing code, and the `runtime` (which interprets it). A node kind is one dataclass; the
union `Node` lists them all so that a `match` with `assert_never` makes a new kind a type
error until every consumer handles it. Every node exposes its outgoing `edges()` uniformly
so checks, drawing and test coverage never special-case kinds.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal as TypingLiteral

from ivr.flowlang.diagnostics import UNKNOWN_SPAN, Span
from ivr.flowlang.expressions import Expr, Template

DTMF_KEYS = "0123456789*#"


TransferMode = TypingLiteral["bridge", "blind"]
"""`bridge` keeps the call and connects the far end; `blind` hands it off (SIP REFER)."""

KeyAction = TypingLiteral["back", "repeat", "goto"]
"""What a global key does: go `back` to the previous menu or collect, `repeat` the prompt, or
`goto` a node of the running flow (for example the way to an agent)."""


@dataclass(frozen=True)
class Edge:
    """A labelled arrow to another node of the same flow (`target` is a node id)."""

    label: str
    target: str
    span: Span


@dataclass(frozen=True)
class PromptText:
    """What one language says: a template for TTS, or an audio file with optional text;
    `chat`, when given, is what a web chat shows instead of the spoken text."""

    template: Template | None
    audio: str | None
    span: Span
    chat: Template | None = None


@dataclass(frozen=True)
class Prompt:
    """A prompt in every declared language; `by_language` maps "zh"/"en" to its text."""

    by_language: Mapping[str, PromptText]
    span: Span


@dataclass(frozen=True)
class Argument:
    """`name: expression`, as in operation args, subflow inputs, queue data, metadata."""

    name: str
    expr: Expr
    span: Span


@dataclass(frozen=True)
class Assignment:
    """`variable <- expression`; in `lookup`, the expression may read `result`."""

    variable: str
    expr: Expr
    span: Span


@dataclass(frozen=True)
class VariableDecl:
    """A declared flow input, output or variable. Secret values never leave the engine."""

    name: str
    type: str = "any"
    secret: bool = False
    initial: object = None
    required: bool = True
    description: str = ""
    span: Span = field(default_factory=lambda: Span("<builtin>", 1, 1))


@dataclass(frozen=True)
class GlobalKey:
    """One `global_keys` entry of the service, a flow or a node (docs/language.md, "Global
    keys"). The service declares a key completely; a flow or a node may turn it off (`off`),
    change what it is (`key`, `action`, `goto`: None means "as inherited") or add its own.
    `goto` is an edge to a node of the running flow; the service's is resolved per flow."""

    name: str
    span: Span
    key: str | None = None
    action: KeyAction | None = None
    goto: Edge | None = None
    off: bool = False


@dataclass(frozen=True)
class ContextField:
    """One entry of a flow's `context`: what an agent is shown if the caller reaches one
    (`label` by language; the field's name when none). Never a secret (FL510)."""

    name: str
    value: Expr
    label: Mapping[str, str]
    span: Span


@dataclass(frozen=True)
class NodeBase:
    id: str
    span: Span
    description: str

    def edges(self) -> Iterator[Edge]:
        """Every outgoing edge, in a stable order (used by checks, drawing and coverage)."""
        for name in self._edge_fields():
            value = getattr(self, name)
            if isinstance(value, Edge):
                yield value
            elif isinstance(value, tuple):
                for item in value:
                    if isinstance(item, Edge):
                        yield item
                    elif isinstance(item, (MenuOption, Case)):
                        yield item.edge
                    elif isinstance(item, GlobalKey) and item.goto is not None:
                        yield item.goto

    def _edge_fields(self) -> tuple[str, ...]:
        return ()

    def prompts(self) -> Iterator[Prompt]:
        """Every prompt the node can speak (for language and secret-leak checks)."""
        for name in ("prompt", "retry_prompt", "no_input_prompt", "no_match_prompt", "invalid_prompt"):
            value = getattr(self, name, None)
            if isinstance(value, Prompt):
                yield value


@dataclass(frozen=True)
class Say(NodeBase):
    """Speak a prompt, then go on. A digit pressed during it is kept (type-ahead)."""

    prompt: Prompt
    next: Edge | None
    barge_in: bool = True
    kind: TypingLiteral["say"] = "say"

    def _edge_fields(self) -> tuple[str, ...]:
        return ("next",)


@dataclass(frozen=True)
class MenuOption:
    key: str
    edge: Edge


@dataclass(frozen=True)
class Menu(NodeBase):
    """Offer DTMF options. Counted no-input / no-match retries with tapered prompts: the
    first try plays `prompt`, later tries `retry_prompt` (if given) after the matching
    `no_input_prompt` / `no_match_prompt`. After `max_retries` failures of either kind,
    `on_no_input` / `on_no_match` is taken."""

    prompt: Prompt
    options: tuple[MenuOption, ...]
    retry_prompt: Prompt | None
    no_input_prompt: Prompt | None
    no_match_prompt: Prompt | None
    timeout: Decimal
    max_retries: int
    on_no_input: Edge | None
    on_no_match: Edge | None
    barge_in: bool = True
    global_keys: tuple[GlobalKey, ...] = ()
    kind: TypingLiteral["menu"] = "menu"

    def _edge_fields(self) -> tuple[str, ...]:
        return ("options", "on_no_input", "on_no_match", "global_keys")


@dataclass(frozen=True)
class Collect(NodeBase):
    """Collect a digit string into a variable. Ends at the terminator key, at max_length,
    or when the inter-digit timeout passes with at least min_length digits. With
    `star_decimal`, `*` is read as a decimal point (prices such as 12*35 = 12.35)."""

    prompt: Prompt
    into: str
    into_span: Span
    min_length: int
    max_length: int
    terminator: str | None
    first_digit_timeout: Decimal
    inter_digit_timeout: Decimal
    overall_timeout: Decimal | None
    star_decimal: bool
    valid: Expr | None
    retry_prompt: Prompt | None
    no_input_prompt: Prompt | None
    invalid_prompt: Prompt | None
    max_retries: int
    next: Edge | None
    on_no_input: Edge | None
    on_invalid: Edge | None
    barge_in: bool = True
    global_keys: tuple[GlobalKey, ...] = ()
    kind: TypingLiteral["collect"] = "collect"

    def _edge_fields(self) -> tuple[str, ...]:
        return ("next", "on_no_input", "on_invalid", "global_keys")

    def entry(self, keys: str) -> str | None:
        """The text an entry of `keys` (terminator excluded) gives, or None when it cannot
        form one. Lengths count the keys pressed (with `star_decimal`, the star is a key).
        With `star_decimal` the star is the decimal point: "12*35" is "12.35", a leading star
        gets a leading zero ("*5" is "0.5"), and two stars or a star with no digit after it
        ("12*") cannot form a number."""
        if not self.min_length <= len(keys) <= self.max_length:
            return None
        if not self.star_decimal:
            return keys
        whole, point, fraction = keys.partition("*")
        if not point:
            return whole
        if not fraction or "*" in fraction:
            return None
        return f"{whole or '0'}.{fraction}"


@dataclass(frozen=True)
class Confirm(NodeBase):
    """Read values back (the prompt) and take confirm / re-enter / cancel keys."""

    prompt: Prompt
    confirm_key: str
    reenter_key: str | None
    cancel_key: str | None
    timeout: Decimal
    max_retries: int
    retry_prompt: Prompt | None
    no_input_prompt: Prompt | None
    no_match_prompt: Prompt | None
    next: Edge | None
    on_reenter: Edge | None
    on_cancel: Edge | None
    on_no_input: Edge | None
    global_keys: tuple[GlobalKey, ...] = ()
    kind: TypingLiteral["confirm"] = "confirm"

    def _edge_fields(self) -> tuple[str, ...]:
        return ("next", "on_reenter", "on_cancel", "on_no_input", "global_keys")


@dataclass(frozen=True)
class Case:
    condition: Expr
    edge: Edge


@dataclass(frozen=True)
class Branch(NodeBase):
    """Take the first case whose condition holds, else `otherwise`."""

    cases: tuple[Case, ...]
    otherwise: Edge | None
    kind: TypingLiteral["branch"] = "branch"

    def _edge_fields(self) -> tuple[str, ...]:
        return ("cases", "otherwise")


@dataclass(frozen=True)
class Set(NodeBase):
    """Assign variables, in order (a later assignment sees an earlier one)."""

    assignments: tuple[Assignment, ...]
    next: Edge | None
    kind: TypingLiteral["set"] = "set"

    def _edge_fields(self) -> tuple[str, ...]:
        return ("next",)


@dataclass(frozen=True)
class Lookup(NodeBase):
    """Call a declared data operation. Assignments read its answer as `result`."""

    operation: str
    operation_span: Span
    args: tuple[Argument, ...]
    assign: tuple[Assignment, ...]
    next: Edge | None
    on_error: Edge | None
    on_timeout: Edge | None
    kind: TypingLiteral["lookup"] = "lookup"

    def _edge_fields(self) -> tuple[str, ...]:
        return ("next", "on_error", "on_timeout")


@dataclass(frozen=True)
class Subflow(NodeBase):
    """Run another flow with inputs; copy its outputs back; continue by its outcome."""

    flow: str
    flow_span: Span
    inputs: tuple[Argument, ...]
    outputs: tuple[Assignment, ...]
    outcomes: tuple[Edge, ...]
    next: Edge | None
    on_error: Edge | None
    kind: TypingLiteral["subflow"] = "subflow"

    def _edge_fields(self) -> tuple[str, ...]:
        return ("outcomes", "next", "on_error")


@dataclass(frozen=True)
class Return(NodeBase):
    """End a subflow, handing back outputs and an optional named outcome."""

    outcome: str | None
    outputs: tuple[Argument, ...]
    kind: TypingLiteral["return"] = "return"


@dataclass(frozen=True)
class QueueCallback:
    """`callback:` on an `enqueue` node: once the caller's expected or actual wait passes
    `after`, `prompt` offers "press `key` to be called back"; a caller who presses it keeps
    their place in the queue, hears `confirm` and hangs up, and is called back when an
    agent is about to be free (docs/acd.md)."""

    key: str
    after: Decimal
    prompt: Prompt | None
    confirm: Prompt | None
    span: Span


CALLBACK_KEY = "1"
CALLBACK_AFTER = Decimal(60)


@dataclass(frozen=True)
class Enqueue(NodeBase):
    """Wait in an ACD queue for an agent with the skills; `data` pops on the agent screen."""

    queue: str
    queue_span: Span
    skills: tuple[str, ...]
    priority: Expr | None
    data: tuple[Argument, ...]
    max_wait: Decimal | None
    next: Edge | None
    on_overflow: Edge | None
    on_timeout: Edge | None
    on_no_agents: Edge | None
    callback: QueueCallback | None = None
    kind: TypingLiteral["enqueue"] = "enqueue"

    def _edge_fields(self) -> tuple[str, ...]:
        return ("next", "on_overflow", "on_timeout", "on_no_agents")

    def prompts(self) -> Iterator[Prompt]:
        if self.callback is not None:
            yield from (p for p in (self.callback.prompt, self.callback.confirm) if p is not None)


@dataclass(frozen=True)
class Transfer(NodeBase):
    """Connect the caller to a number or SIP address: `bridge` keeps the call, `blind` hands
    it off (REFER)."""

    to: Expr
    mode: TransferMode
    data: tuple[Argument, ...]
    timeout: Decimal
    next: Edge | None
    on_failed: Edge | None
    kind: TypingLiteral["transfer"] = "transfer"

    def _edge_fields(self) -> tuple[str, ...]:
        return ("next", "on_failed")


@dataclass(frozen=True)
class Record(NodeBase):
    """Record the caller after an optional prompt and beep; stored with metadata."""

    prompt: Prompt | None
    into: str
    into_span: Span
    max_length: Decimal
    beep: bool
    stop_key: str | None
    metadata: tuple[Argument, ...]
    next: Edge | None
    on_no_input: Edge | None
    on_chat: Edge | None = None  # a web chat carries no voice: where a chat goes instead
    kind: TypingLiteral["record"] = "record"

    def _edge_fields(self) -> tuple[str, ...]:
        return ("next", "on_no_input", "on_chat")


@dataclass(frozen=True)
class Send(NodeBase):
    """Queue a message on a named channel (SMS, e-mail, fax of a document). Without `wait`
    the flow goes on once the message is queued (`next`); with `wait` it waits that long for
    the gateway's answer: `next` when sent, `on_pending` when none came in time, `on_error`
    when refused or failed for good."""

    channel: str
    channel_span: Span
    to: Expr
    message: Prompt | None
    document: Expr | None
    next: Edge | None
    on_error: Edge | None
    wait: Decimal | None = None
    on_pending: Edge | None = None
    kind: TypingLiteral["send"] = "send"

    def _edge_fields(self) -> tuple[str, ...]:
        return ("next", "on_pending", "on_error")


@dataclass(frozen=True)
class Schedule(NodeBase):
    """Branch on a named calendar: open, closed or holiday, in the calendar's time zone."""

    calendar: str
    calendar_span: Span
    open: Edge | None
    closed: Edge | None
    holiday: Edge | None
    kind: TypingLiteral["schedule"] = "schedule"

    def _edge_fields(self) -> tuple[str, ...]:
        return ("open", "closed", "holiday")


@dataclass(frozen=True)
class Language(NodeBase):
    """Switch the prompt language for the rest of the call."""

    language: str
    next: Edge | None
    language_span: Span = UNKNOWN_SPAN
    kind: TypingLiteral["language"] = "language"

    def _edge_fields(self) -> tuple[str, ...]:
        return ("next",)


@dataclass(frozen=True)
class Log(NodeBase):
    """Write a line to the call record's trace (never a secret)."""

    message: Template
    next: Edge | None
    kind: TypingLiteral["log"] = "log"

    def _edge_fields(self) -> tuple[str, ...]:
        return ("next",)


@dataclass(frozen=True)
class Hangup(NodeBase):
    """Optionally say goodbye, then end the call."""

    prompt: Prompt | None
    kind: TypingLiteral["hangup"] = "hangup"


Node = (
    Say
    | Menu
    | Collect
    | Confirm
    | Branch
    | Set
    | Lookup
    | Subflow
    | Return
    | Enqueue
    | Transfer
    | Record
    | Send
    | Schedule
    | Language
    | Log
    | Hangup
)

NODE_KINDS: tuple[str, ...] = (
    "say", "menu", "collect", "confirm", "branch", "set", "lookup", "subflow", "return",
    "enqueue", "transfer", "record", "send", "schedule", "language", "log", "hangup",
)  # fmt: skip

TERMINAL_KINDS = frozenset({"hangup", "return", "transfer"})

InputNode = Menu | Collect | Confirm
"""The nodes that wait for the caller's keys: where global keys work."""


@dataclass(frozen=True)
class Flow:
    """One compiled flow file."""

    name: str
    file: str
    span: Span
    description: str
    languages: tuple[str, ...]
    inputs: tuple[VariableDecl, ...]
    outputs: tuple[VariableDecl, ...]
    variables: tuple[VariableDecl, ...]
    start: str
    start_span: Span
    nodes: Mapping[str, Node]
    languages_span: Span = UNKNOWN_SPAN
    outbound: OutboundDecl | None = None  # an outbound (campaign) flow: docs/outbound.md
    global_keys: tuple[GlobalKey, ...] = ()
    context: tuple[ContextField, ...] = ()

    @property
    def default_language(self) -> str:
        return self.languages[0]

    def declarations(self) -> Iterator[VariableDecl]:
        yield from self.inputs
        yield from self.outputs
        yield from self.variables
        if self.outbound is not None:
            yield from outbound_declarations(self.outbound)

    def secret_names(self) -> frozenset[str]:
        return frozenset(d.name for d in self.declarations() if d.secret)


@dataclass(frozen=True)
class OperationDecl:
    """A data operation the service offers: SQL, HTTP or a Python callable."""

    name: str
    backend: str
    params: tuple[str, ...]
    returns: tuple[str, ...]
    timeout: Decimal
    retries: int
    config: Mapping[str, object]
    span: Span


@dataclass(frozen=True)
class QueueDecl:
    name: str
    skills: tuple[str, ...]
    span: Span


@dataclass(frozen=True)
class CalendarDecl:
    """Opening hours per weekday ("mon": [["09:30", "11:30"], ...]) and holiday dates."""

    name: str
    timezone: str
    hours: Mapping[str, tuple[tuple[str, str], ...]]
    holidays: tuple[str, ...]
    span: Span


@dataclass(frozen=True)
class ChannelDecl:
    """A message channel of the service: its kind (sms, email, fax) and its gateway settings
    as written (`smtp:`, `http:`, `from`, `retry:` ...; read by the messaging adapter)."""

    name: str
    kind: str
    span: Span
    config: Mapping[str, object] = field(default_factory=dict)
    keywords: tuple[SmsKeyword, ...] = ()  # an sms channel's `inbound: keywords:`


@dataclass(frozen=True)
class SmsKeyword:
    """One text command of an SMS channel's inbound keyword table (docs/channels.md): run
    `flow` with the words after the keyword as its `args` inputs, or put the sender on the
    do-not-call list, or answer `reply`. `word` is matched without regard to case."""

    word: str
    span: Span
    flow: str | None = None
    args: tuple[str, ...] = ()
    do_not_call: bool = False
    reply: str | None = None


@dataclass(frozen=True)
class NumberRoute:
    """A dialed number (DID) answered by a service's entry flow."""

    number: str
    flow: str
    span: Span


# -- outbound: trunks, campaigns and what an outbound flow declares (docs/outbound.md) ----

RetryOutcome = TypingLiteral["busy", "no_answer", "failed", "machine"]
"""The attempt outcomes a campaign may retry after (an answered call is done)."""
RETRY_OUTCOMES: tuple[RetryOutcome, ...] = ("busy", "no_answer", "failed", "machine")

MachinePolicy = TypingLiteral["leave_message", "hang_up"]
"""What a campaign does when an answering machine takes the call: run the flow after the
beep (its prompts are the message), or hang up (and retry per `retries.machine`)."""

OPTED_OUT = "opted_out"
"""The disposition that puts the callee's number on the do-not-call list."""


@dataclass(frozen=True)
class TrunkAuth:
    """Digest credentials for a trunk. The password is never in the file: `password_env`
    names the environment variable that holds it when the server starts."""

    username: str
    password_env: str
    realm: str
    span: Span


@dataclass(frozen=True)
class TrunkDecl:
    """A SIP trunk to a carrier: outbound calls go to `gateway` (host[:port]) over
    `transport`, presenting `caller_id`; at most `channels` calls (inbound and outbound
    together) and `reserve` of them always left for inbound."""

    name: str
    gateway: str
    transport: TypingLiteral["udp", "tcp"]
    channels: int
    reserve: int
    caller_id: str
    auth: TrunkAuth | None
    register: bool
    register_expires: Decimal
    span: Span


@dataclass(frozen=True)
class RetryRule:
    """Retry `times` more attempts after an attempt ends so, each `after` seconds later."""

    after: Decimal
    times: int


@dataclass(frozen=True)
class ContactSource:
    """Where a campaign's contacts come from: a CSV file (relative to the service file) or
    an SQL query on a database; `number` names the column with the phone number and
    `timezone` the optional column with the callee's time zone."""

    csv: str | None
    query: str | None
    database: str | None
    number: str
    timezone: str | None
    span: Span
    key: str | None = None  # the column naming each contact (a followed list's idempotency key)
    follow: Decimal | None = None  # re-read the query every so many seconds into a standing run


@dataclass(frozen=True)
class SmsFallback:
    """A contact the campaign could not reach (its last attempt ended without an answer)
    gets the text of its contact field `text` by the SMS channel `channel`."""

    channel: str
    text: str
    span: Span


@dataclass(frozen=True)
class CampaignDecl:
    """A campaign definition: whom to call (contacts), when (the calendar's days, hours and
    holidays, in the callee's local time), how fast, what to run when they answer, and how
    to retry. `ivr campaign create` makes a run of it."""

    name: str
    flow: str
    flow_span: Span
    trunk: str
    trunk_span: Span
    contacts: ContactSource
    calendar: str | None
    calendar_span: Span
    timezone: str | None  # the callee's zone when the contact has none (else the calendar's)
    max_concurrent: int
    calls_per_second: Decimal
    ring_timeout: Decimal
    retries: Mapping[RetryOutcome, RetryRule]
    machine: MachinePolicy
    detect_machines: bool
    span: Span
    sms_fallback: SmsFallback | None = None


@dataclass(frozen=True)
class OutboundDecl:
    """An outbound flow's declaration: the contact fields it reads (`contact.<field>`) and
    the dispositions it may set (`disposition`, besides `opted_out`)."""

    contact: tuple[VariableDecl, ...]
    dispositions: tuple[str, ...]
    span: Span


OUTBOUND_INPUTS = ("contact", "campaign")
"""Names an outbound flow reads without declaring them; `disposition` it may also set."""
DISPOSITION = "disposition"
OUTBOUND_NAMES = frozenset({*OUTBOUND_INPUTS, DISPOSITION})


def outbound_declarations(outbound: OutboundDecl) -> tuple[VariableDecl, ...]:
    """What an outbound flow has without declaring it: `contact` and `campaign` (filled
    when the call starts) and `disposition` (the flow sets it; the campaign stores it)."""
    span = outbound.span
    return (
        VariableDecl("contact", "map", required=False, description="the contact's fields", span=span),
        VariableDecl("campaign", "map", required=False, description="the campaign and attempt", span=span),
        VariableDecl(DISPOSITION, "string", required=False, description="how the call went", span=span),
    )


@dataclass(frozen=True)
class AgentFlowDecl:
    """A flow an agent may send the caller into (`agent_flows:`, keyed by the flow's name):
    its label on the desktop and the words for its outcomes, per language. The call comes
    back to the same agent with the outcome and the flow's (non-secret) outputs."""

    flow: str
    label: Mapping[str, str]
    outcomes: Mapping[str, Mapping[str, str]]
    span: Span


@dataclass(frozen=True)
class Service:
    """The service configuration that flows are checked and run against."""

    name: str
    file: str
    operations: Mapping[str, OperationDecl]
    queues: Mapping[str, QueueDecl]
    calendars: Mapping[str, CalendarDecl]
    channels: Mapping[str, ChannelDecl]
    numbers: tuple[NumberRoute, ...]
    languages: tuple[str, ...]
    span: Span
    trunks: Mapping[str, TrunkDecl] = field(default_factory=dict)
    campaigns: Mapping[str, CampaignDecl] = field(default_factory=dict)
    agent_flows: Mapping[str, AgentFlowDecl] = field(default_factory=dict)
    global_keys: tuple[GlobalKey, ...] = ()
    module: str | None = None  # where `backend: module` operations and the hooks come from
    module_span: Span | None = None


@dataclass(frozen=True)
class Project:
    """Everything loaded together by `ivr check PATH...`: flows by name and the service."""

    flows: Mapping[str, Flow]
    service: Service | None
    sources: Mapping[str, str]
