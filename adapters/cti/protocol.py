"""The CTI protocol's messages: parsing commands, and the JSON of replies and events.

Place: pure functions under `ivr.adapters.cti.session` (no trio, no I/O), so hypothesis can
throw anything at `parse_request`. docs/cti.md is the reference for desktops and CRMs:

    -> {"id": 7, "command": "state", "state": "ready"}
    <- {"reply": 7, "ok": true}
    <- {"event": "offered", "call_id": "...", "queue": "sales", "screen": {...}, "at": 12.5}

Anything that is not a well-formed command becomes a `ProtocolError` with a stable `code`;
the session answers it and carries on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from ivr.adapters.errors import AdapterError
from ivr.runtime.acd import (
    AcdEvent,
    AgentStateChanged,
    CallConnected,
    CallFinished,
    CallOffered,
    QueueStatistics,
)

MAX_MESSAGE = 16_384  # characters; a command is small
MAX_ID = 64
MAX_TEXT = 200
MAX_NOTES = 4_000
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

    def json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True, slots=True)
class Login:
    token: str | None = None
    extension: str | None = None
    password: str | None = None


@dataclass(frozen=True, slots=True)
class SetState:
    ready: bool


@dataclass(frozen=True, slots=True)
class Hangup:
    call_id: str


@dataclass(frozen=True, slots=True)
class Transfer:
    call_id: str
    kind: str  # "queue", "agent" or "number"
    destination: str


@dataclass(frozen=True, slots=True)
class Wrapup:
    call_id: str
    disposition: str
    notes: str
    ready: bool


@dataclass(frozen=True, slots=True)
class Ping:
    pass


@dataclass(frozen=True, slots=True)
class Logout:
    pass


Command = Login | SetState | Hangup | Transfer | Wrapup | Ping | Logout
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
            state = _text(data, "state")
            if state not in ("ready", "not_ready"):
                raise ProtocolError("bad_field", "`state` is 'ready' or 'not_ready'")
            return SetState(state == "ready")
        case "hangup":
            return Hangup(_text(data, "call_id"))
        case "transfer":
            return _transfer(data)
        case "wrapup":
            notes = _text(data, "notes", limit=MAX_NOTES) if data.get("notes") is not None else ""
            ready = data.get("ready", False)
            if not isinstance(ready, bool):
                raise ProtocolError("bad_field", "`ready` is true or false")
            return Wrapup(_text(data, "call_id"), _text(data, "disposition"), notes, ready)
        case "ping":
            return Ping()
        case "logout":
            return Logout()
        case str() as other:
            raise ProtocolError("unknown_command", f"no command {other[:40]!r}; see docs/cti.md")
    raise ProtocolError("bad_message", "`command` (a string) is missing")


def _transfer(data: Mapping[str, object]) -> Transfer:
    kinds = [kind for kind in ("queue", "agent", "number") if kind in data]
    if len(kinds) != 1:
        raise ProtocolError("bad_field", "a transfer names exactly one of `queue`, `agent` or `number`")
    destination = _text(data, kinds[0])
    if kinds[0] == "number" and not re.fullmatch(r"\+?[0-9*#]{1,32}|sips?:[^\s<>\"]{1,200}", destination):
        raise ProtocolError("bad_field", "`number` is digits (optionally +) or a sip: address")
    return Transfer(_text(data, "call_id"), kinds[0], destination)


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


def event_message(event: AcdEvent) -> dict[str, object] | None:
    """The JSON of an ACD event for the agent concerned (None for `QueueChanged`, which goes
    out as `queue_stats`)."""
    match event:
        case CallOffered():
            return {
                "event": "offered",
                "call_id": event.call_id,
                "queue": event.queue,
                "screen": safe_screen(event.screen),
                "at": event.at,
            }
        case CallConnected():
            return {"event": "connected", "call_id": event.call_id, "queue": event.queue, "at": event.at}
        case CallFinished():
            return {
                "event": "ended",
                "call_id": event.call_id,
                "queue": event.queue,
                "outcome": event.outcome,
                "at": event.at,
            }
        case AgentStateChanged():
            return {"event": "agent_state", "state": event.state.value, "previous": event.previous.value}
    return None


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
