"""The CTI protocol's messages: parsing commands, and the JSON of replies and events.

Place: pure functions under `ivr.adapters.cti.session` (no trio, no I/O), so hypothesis can
throw anything at `parse_request`. docs/cti.md is the reference for desktops and CRMs:

    -> {"id": 7, "command": "state", "state": "ready"}
    <- {"reply": 7, "ok": true}
    <- {"event": "offered", "call_id": "...", "queue": "sales", "kind": "queue", "screen": {...}}

Anything that is not a well-formed command becomes a `ProtocolError` with a stable `code`;
the session answers it and carries on.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Literal

from ivr.adapters.cti.calls import Ended, HeldCall
from ivr.adapters.cti.orders import Draft
from ivr.adapters.errors import AdapterError
from ivr.adapters.history.model import SECTIONS, Section
from ivr.runtime.acd import AgentStateChanged, AgentStatistics, CallOffered, QueueStatistics
from ivr.runtime.ports import FlowResult

MAX_MESSAGE = 16_384  # characters; a command is small
MAX_ID = 64
MAX_TEXT = 200
MAX_NOTES = 4_000
MAX_FIELDS = 20
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")
_ACCOUNT = re.compile(r"[0-9A-Za-z-]{1,32}")
_SECRET_PARTS = {
    "pin",
    "pins",
    "password",
    "passwd",
    "passcode",
    "pwd",
    "secret",
    "cvv",
    "cvc",
    "otp",
    "token",
}
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


class ProtocolError(AdapterError):
    """A command the server cannot carry out; `code` is stable (see docs/cti.md)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra: dict[str, object] = {}  # e.g. `retry_after` for `locked`

    def json(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, **self.extra}


@dataclass(frozen=True, slots=True)
class Login:
    token: str | None = None
    extension: str | None = None
    password: str | None = None


@dataclass(frozen=True, slots=True)
class SetState:
    """Ready or not ready (with a reason); `after_call`: once the current call ends."""

    ready: bool
    reason: str | None = None
    after_call: bool = False


Leg = Literal["self", "consult"]
TargetKind = Literal["queue", "agent", "number"]


@dataclass(frozen=True, slots=True)
class Hangup:
    """End your own leg of a call (decline it while it rings), or the consulted party's."""

    call_id: str
    leg: Leg = "self"


@dataclass(frozen=True, slots=True)
class Transfer:
    """Blind transfer: the caller goes to the target, the agent is free at once."""

    call_id: str
    kind: TargetKind
    destination: str


@dataclass(frozen=True, slots=True)
class Consult:
    """Warm transfer, first step: ring the target while the caller holds."""

    call_id: str
    kind: TargetKind
    destination: str


@dataclass(frozen=True, slots=True)
class Complete:
    """Warm transfer, last step: the caller talks with the consulted party; you leave."""

    call_id: str


@dataclass(frozen=True, slots=True)
class Conference:
    call_id: str


@dataclass(frozen=True, slots=True)
class Hold:
    call_id: str
    on: bool


@dataclass(frozen=True, slots=True)
class Mute:
    call_id: str
    on: bool


@dataclass(frozen=True, slots=True)
class Dtmf:
    call_id: str
    digits: str


@dataclass(frozen=True, slots=True)
class SendToFlow:
    """Send the caller into one of the service's agent flows; it comes back to you with the
    result. `inputs` add to (or override) what the call's data gives the flow."""

    call_id: str
    flow: str
    inputs: Mapping[str, object]


ReadBack = Literal["agent", "ivr"]
"""Who read an order back before it was placed: the agent (and the caller said yes on the
line), or the service's read-back flow (and the caller pressed the confirm key)."""


@dataclass(frozen=True, slots=True)
class AnswerChat:
    """Take a web chat offered to you (a call is answered on the phone)."""

    call_id: str


@dataclass(frozen=True, slots=True)
class ChatText:
    """Write to the visitor of the web chat you talk with."""

    call_id: str
    text: str


@dataclass(frozen=True, slots=True)
class QuoteCode:
    """The order form looks a code up (name, last price, today's limits)."""

    call_id: str
    code: str


@dataclass(frozen=True, slots=True)
class CheckOrder:
    """The read-back step: the back office's verdict and the words to read to the caller."""

    call_id: str
    draft: Draft


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """Place the order that was read back; `key` is the desktop's for this draft, so a
    repeated click or a retry after a lost answer never places it twice."""

    call_id: str
    draft: Draft
    key: str
    readback: ReadBack


@dataclass(frozen=True, slots=True)
class Wrapup:
    call_id: str
    disposition: str
    notes: str
    ready: bool
    reason: str | None = None  # why not ready, when `ready` is false


@dataclass(frozen=True, slots=True)
class ExtendWrapup:
    seconds: float


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """The customer's history (`ivr.adapters.history`): of the caller of a call offered to or
    held by you (`call_id`), or of an account you searched for; one `section` only, older
    than `before` (the `more` cursor of a page), when given."""

    call_id: str
    account: str
    section: Section | None = None
    before: str | None = None


@dataclass(frozen=True, slots=True)
class Ping:
    pass


@dataclass(frozen=True, slots=True)
class Logout:
    pass


CallCommand = (
    Hangup | Transfer | Consult | Complete | Conference | Hold | Mute | Dtmf | SendToFlow
    | QuoteCode | CheckOrder | PlaceOrder | AnswerChat | ChatText
)  # fmt: skip
Command = Login | SetState | CallCommand | Wrapup | ExtendWrapup | HistoryQuery | Ping | Logout
RequestId = str | int


@dataclass(frozen=True, slots=True)
class Request:
    id: RequestId
    command: Command


@dataclass(frozen=True, slots=True)
class BadRequest:
    """A message that is not a command; `id` is set when one could be read."""

    id: RequestId | None
    error: ProtocolError


def parse_request(message: str | bytes) -> Request | BadRequest:
    """One WebSocket message to a `Request`, or the reason it is not one."""
    if len(message) > MAX_MESSAGE:
        return BadRequest(None, ProtocolError("too_large", f"messages are at most {MAX_MESSAGE} characters"))
    try:
        data = json.loads(message)
    except (ValueError, RecursionError):
        return BadRequest(None, ProtocolError("bad_json", "the message is not JSON"))
    if not isinstance(data, dict):
        return BadRequest(None, ProtocolError("bad_message", "a command is a JSON object"))
    request_id = data.get("id")
    if isinstance(request_id, bool) or not isinstance(request_id, str | int) or len(str(request_id)) > MAX_ID:
        return BadRequest(
            None, ProtocolError("bad_message", "every command needs an `id` (string or integer)")
        )
    try:
        return Request(request_id, _command(data))
    except ProtocolError as error:
        return BadRequest(request_id, error)


def _command(data: Mapping[str, object]) -> Command:
    match data.get("command"):
        case "login":
            if "token" in data:
                return Login(token=_text(data, "token"))
            return Login(extension=_text(data, "extension"), password=_text(data, "password"))
        case "state":
            return _state(data)
        case "hangup":
            leg = data.get("leg", "self")
            if leg not in ("self", "consult"):
                raise ProtocolError("bad_field", "`leg` is 'self' (yours) or 'consult' (the consulted party)")
            return Hangup(_text(data, "call_id"), "consult" if leg == "consult" else "self")
        case "transfer":
            return Transfer(_text(data, "call_id"), *_target(data))
        case "consult":
            return Consult(_text(data, "call_id"), *_target(data))
        case "complete":
            return Complete(_text(data, "call_id"))
        case "answer":
            return AnswerChat(_text(data, "call_id"))
        case "chat":
            return ChatText(_text(data, "call_id"), _text(data, "text", limit=2000))
        case "conference":
            return Conference(_text(data, "call_id"))
        case "hold":
            return Hold(_text(data, "call_id"), _flag(data, "on"))
        case "mute":
            return Mute(_text(data, "call_id"), _flag(data, "on"))
        case "dtmf":
            digits = _text(data, "digits", limit=32)
            if not re.fullmatch(r"[0-9*#A-D]+", digits):
                raise ProtocolError("bad_field", "`digits` are 0-9, *, # (and A-D)")
            return Dtmf(_text(data, "call_id"), digits)
        case "flow":
            return SendToFlow(_text(data, "call_id"), _name(data, "flow"), fields(data, "inputs"))
        case "quote":
            return QuoteCode(_text(data, "call_id"), _code(data))
        case "check_order":
            return CheckOrder(_text(data, "call_id"), _draft(data))
        case "place_order":
            key = _text(data, "key", limit=64)
            if not re.fullmatch(r"[A-Za-z0-9_-]{8,64}", key):
                raise ProtocolError("bad_field", "`key` is 8-64 letters, digits, - or _ (one per draft)")
            readback = data.get("readback")
            if readback not in ("agent", "ivr"):
                raise ProtocolError("bad_field", "`readback` is 'agent' or 'ivr': who read the order back")
            return PlaceOrder(
                _text(data, "call_id"), _draft(data), key, "ivr" if readback == "ivr" else "agent"
            )
        case "wrapup":
            notes = _text(data, "notes", limit=MAX_NOTES) if data.get("notes") else ""
            ready = data.get("ready", False)
            if not isinstance(ready, bool):
                raise ProtocolError("bad_field", "`ready` is true or false")
            return Wrapup(_text(data, "call_id"), _text(data, "disposition"), notes, ready, _reason(data))
        case "extend_wrapup":
            seconds = data.get("seconds", 30)
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds <= 600:
                raise ProtocolError("bad_field", "`seconds` is a number from 1 to 600")
            return ExtendWrapup(float(seconds))
        case "history":
            return _history(data)
        case "ping":
            return Ping()
        case "logout":
            return Logout()
        case str() as other:
            raise ProtocolError("unknown_command", f"no command {other[:40]!r}; see docs/cti.md")
    raise ProtocolError("bad_message", "`command` (a string) is missing")


def _history(data: Mapping[str, object]) -> HistoryQuery:
    call_id = _text(data, "call_id") if data.get("call_id") is not None else ""
    account = _text(data, "account", limit=32) if data.get("account") is not None else ""
    if bool(call_id) == bool(account):
        raise ProtocolError("bad_field", "`history` takes a `call_id` (its caller's) or an `account`")
    if account and not _ACCOUNT.fullmatch(account):
        raise ProtocolError("bad_field", "`account` is 1-32 letters, digits or -")
    section = data.get("section")
    if section is not None and section not in SECTIONS:
        raise ProtocolError("bad_field", f"`section` is one of {', '.join(SECTIONS)}")
    before = _text(data, "before", limit=40) if data.get("before") is not None else None
    if before is not None and section is None:
        raise ProtocolError("bad_field", "`before` (a page's `more`) goes with the `section` it came from")
    return HistoryQuery(call_id, account, next((s for s in SECTIONS if s == section), None), before)


def _state(data: Mapping[str, object]) -> SetState:
    state = _text(data, "state")
    if state not in ("ready", "not_ready"):
        raise ProtocolError("bad_field", "`state` is 'ready' or 'not_ready'")
    return SetState(state == "ready", _reason(data), _flag(data, "after_call", default=False))


def _reason(data: Mapping[str, object]) -> str | None:
    reason = data.get("reason")
    if reason is None:
        return None
    if not isinstance(reason, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", reason):
        raise ProtocolError("bad_field", "`reason` is a not-ready reason such as 'break'")
    return reason


def _flag(data: Mapping[str, object], name: str, *, default: bool | None = None) -> bool:
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise ProtocolError("bad_field" if name in data else "missing_field", f"`{name}` is true or false")
    return value


def _target(data: Mapping[str, object]) -> tuple[TargetKind, str]:
    kinds: list[TargetKind] = [kind for kind in ("queue", "agent", "number") if kind in data]
    if len(kinds) != 1:
        raise ProtocolError("bad_field", "name exactly one of `queue`, `agent` or `number`")
    destination = _text(data, kinds[0])
    if kinds[0] == "number" and not re.fullmatch(r"\+?[0-9*#]{1,32}|sips?:[^\s<>\"]{1,200}", destination):
        raise ProtocolError("bad_field", "`number` is digits (optionally +) or a sip: address")
    return kinds[0], destination


def _code(data: Mapping[str, object]) -> str:
    code = data.get("code")
    code = str(code) if isinstance(code, int) and not isinstance(code, bool) else code
    if not isinstance(code, str) or not re.fullmatch(r"[0-9]{6}", code.strip()):
        raise ProtocolError("bad_field", "`code` is a six-digit security code")
    return code.strip()


def _draft(data: Mapping[str, object]) -> Draft:
    """An order's side, code, quantity and price, in shape (the back office judges the rest)."""
    side = data.get("side")
    if side not in ("buy", "sell"):
        raise ProtocolError("bad_field", "`side` is 'buy' or 'sell'")
    qty = data.get("qty")
    if isinstance(qty, str) and qty.strip().isdigit():
        qty = int(qty.strip())
    if isinstance(qty, bool) or not isinstance(qty, int) or not 0 < qty <= 100_000_000:
        raise ProtocolError("bad_field", "`qty` is a whole number of shares")
    price = data.get("price")
    try:
        amount = Decimal(str(price).strip()) if isinstance(price, str | int | float) else None
    except InvalidOperation:
        amount = None
    if isinstance(price, bool) or amount is None or not amount.is_finite() or not 0 < amount < 10**7:
        raise ProtocolError("bad_field", "`price` is a price in yuan, such as 12.35")
    return Draft("buy" if side == "buy" else "sell", _code(data), qty, amount)


def _name(data: Mapping[str, object], name: str) -> str:
    value = _text(data, name, limit=64)
    if not _IDENTIFIER.fullmatch(value):
        raise ProtocolError("bad_field", f"`{name}` is a name such as agent_pin")
    return value


def fields(data: Mapping[str, object], name: str, *, limit: int = MAX_FIELDS) -> dict[str, object]:
    """An optional object of plain values (`{"code": "600519", "qty": 100}`): names, text of
    at most 200 characters, numbers, true/false; never a secret-looking name."""
    value = data.get(name, {})
    if not isinstance(value, Mapping) or len(value) > limit:
        raise ProtocolError("bad_field", f"`{name}` is an object of at most {limit} values")
    checked: dict[str, object] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not _IDENTIFIER.fullmatch(key):
            raise ProtocolError("bad_field", f"`{name}` has a bad name {str(key)[:40]!r}")
        if is_secret_name(key):
            raise ProtocolError("bad_field", f"`{name}.{key}`: secrets never go through the desktop")
        if (isinstance(item, str) and len(item) <= MAX_TEXT) or isinstance(item, bool | int):
            checked[key] = item
        elif isinstance(item, float) and math.isfinite(item):
            checked[key] = Decimal(str(item))
        else:
            raise ProtocolError("bad_field", f"`{name}.{key}` is text, a number or true/false")
    return checked


def _text(data: Mapping[str, object], name: str, *, limit: int = MAX_TEXT) -> str:
    value = data.get(name)
    if value is None:
        raise ProtocolError("missing_field", f"`{name}` is required")
    if not isinstance(value, str) or not value.strip():
        raise ProtocolError("bad_field", f"`{name}` must be a non-empty string")
    if len(value) > limit:
        raise ProtocolError("bad_field", f"`{name}` is at most {limit} characters")
    return value


# -- server -> client ----------------------------------------------------------------------
def reply(request_id: RequestId | None, result: Mapping[str, object] | None = None) -> str:
    body: dict[str, object] = {"reply": request_id, "ok": True}
    if result:
        body.update(result)
    return _dumps(body)


def error_reply(request_id: RequestId | None, error: ProtocolError) -> str:
    """The answer to a failed command; without an id it is an `error` event."""
    if request_id is None:
        return _dumps({"event": "error", "error": error.json()})
    return _dumps({"reply": request_id, "ok": False, "error": error.json()})


def offered_message(event: CallOffered) -> dict[str, object]:
    """A call rings the agent: `kind` "queue", "transfer" (`by` transferred it to you) or
    "consult" (`by` asks you for a consultation), with the caller's screen data."""
    message: dict[str, object] = {
        "event": "offered",
        "call_id": event.call_id,
        "queue": event.queue,
        "kind": event.kind,
        "screen": safe_screen(event.screen),
    }
    if event.by is not None:
        message["by"] = event.by
    return message


def connected_message(call_id: str, queue: str, kind: str, since: float) -> dict[str, object]:
    """The agent talks (`since`: seconds already talked, for the call timer)."""
    return {"event": "connected", "call_id": call_id, "queue": queue, "kind": kind, "since": round(since, 1)}


def ended_message(ended: Ended) -> dict[str, object]:
    """The agent's part in a call is over; `wrapup`: a disposition is due for it."""
    return {
        "event": "ended",
        "call_id": ended.call_id,
        "queue": ended.queue,
        "outcome": ended.outcome,
        "wrapup": ended.wrapup,
    }


def agent_state_message(event: AgentStateChanged | AgentStatistics, now: float) -> dict[str, object]:
    """The agent's state, why it is not ready, the wrap-up seconds left, and the state it
    asked for after its call."""
    previous = event.previous if isinstance(event, AgentStateChanged) else event.state
    until = event.until if isinstance(event, AgentStateChanged) else event.wrap_up_until
    message: dict[str, object] = {"event": "agent_state", "state": event.state.value}
    message["previous"] = previous.value
    if event.reason is not None:
        message["reason"] = event.reason
    if until is not None:
        message["remaining"] = max(0, round(until - now))
    if event.after_call is not None:
        message["after_call"] = event.after_call
    return message


def call_state_message(call: HeldCall, extension: str, now: float) -> dict[str, object]:
    """Everything a desktop shows of one call it is on: your role, hold, mute, the mode
    and the third party."""
    other = call.other
    return {
        "event": "call_state",
        "call_id": call.call_id,
        "role": call.role_of(extension) or "none",
        "status": "talking" if call.connected else "ringing",
        "since": None if call.connected_at is None else round(max(0.0, now - call.connected_at), 1),
        "held": call.held,
        "muted": call.muted,
        "mode": call.mode,
        "other": None
        if other is None
        else {"kind": other.kind, "target": other.target, "state": "talking" if other.talking else "ringing"},
        "flow": call.in_flow,
        "results": [flow_result_message(call.call_id, result) for result in call.results],
    }


def flow_result_message(call_id: str, result: FlowResult) -> dict[str, object]:
    """The caller is back from a flow: how it ended, its outcome and outputs (no secret)."""
    return {
        "event": "flow_result",
        "call_id": call_id,
        "flow": result.flow,
        "ending": result.ending,
        "outcome": result.outcome,
        "outputs": safe_screen(result.outputs),
    }


def queue_stats_message(queues: Mapping[str, QueueStatistics]) -> dict[str, object]:
    return {
        "event": "queue_stats",
        "queues": {
            name: {
                "waiting": q.waiting,
                "longest_wait": round(q.longest_wait, 1),
                "answered": q.answered,
                "abandoned": q.abandoned,
                "service_level": None if q.service_level is None else round(q.service_level, 1),
            }
            for name, q in queues.items()
        },
    }


def safe_screen(screen: Mapping[str, object], depth: int = 0) -> dict[str, object]:
    """Screen data fit for a desktop: JSON values only, and nothing whose name says it is a
    secret (pin, password, ...), at any depth, whatever the flow put there."""
    return {str(k): _safe(v, depth + 1) for k, v in screen.items() if not is_secret_name(str(k))}


def is_secret_name(name: str) -> bool:
    lowered = name.lower()
    parts = {word.lower() for word in _WORD.findall(name)}
    return bool(parts & _SECRET_PARTS) or "password" in lowered or "passcode" in lowered


def _safe(value: object, depth: int) -> object:
    if depth > 6:
        return "…"
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return safe_screen(value, depth)
    if isinstance(value, list | tuple):
        return [_safe(v, depth + 1) for v in value[:100]]
    return str(value)


def _dumps(body: Mapping[str, object]) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def dumps(body: Mapping[str, object]) -> str:
    return _dumps(body)
