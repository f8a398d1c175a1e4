"""`DeskSettings`: how the agent desktop and the CTI socket behave, from the agents file.

Place: read with the accounts (`ivr.adapters.cti.accounts.load_agents_file`, its optional
`desktop:` mapping) and handed to `build_cti_app`. Example:

    desktop:
      frame_ancestors: ["https://crm.example.com"]   # who may embed the desktop (CSP)
      not_ready_reasons: [break, training, back_office]
      session_hours: 12            # a login lasts this long
      max_failures: 5              # wrong passwords for one extension before it locks
      max_address_failures: 20     # failed logins from one address before it locks
      lockout_minutes: 15
      language: zh                 # the desktop's language until the agent picks one
      order_form:                  # the order form: the service's operations it uses
        quote: get_quote           #   (code) -> found, name, market, last, limits
        check: check_order         #   (account, market, side, code, qty, price) -> ok, reason...
        place: place_order         #   (... , idempotency_key) -> ok, order_no, reason...
        readback_flow: order_readback   # optional: the agent flow that reads an order back
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields

from ivr.adapters.errors import ConfigError

_ORIGIN = re.compile(r"https?://(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?")
_REASON = re.compile(r"[a-z][a-z0-9_]{0,31}")
_OPERATION = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
LANGUAGES = ("zh", "en")


@dataclass(frozen=True)
class OrderForm:
    """Which of the service's data operations the desktop's order form calls (see
    `ivr.adapters.cti.orders` for what each must answer), and the agent flow, if any, that
    reads an order back to the caller for a confirmation by key."""

    quote: str
    check: str
    place: str
    readback_flow: str | None = None


@dataclass(frozen=True)
class DeskSettings:
    frame_ancestors: tuple[str, ...] = ()  # none: no page may embed the desktop
    not_ready_reasons: tuple[str, ...] = ("break", "training", "back_office")
    session_hours: float = 12.0
    max_failures: int = 5
    max_address_failures: int = 20
    lockout_minutes: float = 15.0
    language: str = "zh"
    order_form: OrderForm | None = None  # none: the desktop has no order form

    @property
    def session_seconds(self) -> float:
        return self.session_hours * 3600

    def content_security_policy(self) -> str:
        ancestors = " ".join(self.frame_ancestors) if self.frame_ancestors else "'none'"
        return (
            "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
            f"frame-ancestors {ancestors}"
        )


def desk_settings(data: object, where: str) -> DeskSettings:
    """`DeskSettings` from the agents file's `desktop:` mapping; `ConfigError` names what is
    wrong."""
    if data is None:
        return DeskSettings()
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: `desktop` is a mapping of settings")
    known = {f.name for f in fields(DeskSettings)}
    unknown = sorted(set(map(str, data)) - known)
    if unknown:
        raise ConfigError(
            f"{where}: unknown desktop setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    values: dict[str, object] = {}
    for name, value in data.items():
        values[str(name)] = _check(str(name), value, where)
    return DeskSettings(**values)  # type: ignore[arg-type]


def _check(name: str, value: object, where: str) -> object:
    if name in ("frame_ancestors", "not_ready_reasons"):
        pattern = _ORIGIN if name == "frame_ancestors" else _REASON
        if not isinstance(value, list) or not all(isinstance(v, str) and pattern.fullmatch(v) for v in value):
            what = (
                "origins such as https://crm.example.com" if name == "frame_ancestors" else "lowercase words"
            )
            raise ConfigError(f"{where}: desktop.{name} is a list of {what}")
        return tuple(value)
    if name == "order_form":
        return _order_form(value, where)
    if name == "language":
        if value not in LANGUAGES:
            raise ConfigError(f"{where}: desktop.language is one of {', '.join(LANGUAGES)}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{where}: desktop.{name} is a positive number")
    return int(value) if name.startswith("max_") else float(value)


def _order_form(value: object, where: str) -> OrderForm:
    names = ("quote", "check", "place", "readback_flow")
    if (
        not isinstance(value, Mapping)
        or set(map(str, value)) - set(names)
        or any(key not in value for key in names[:3])
        or not all(isinstance(v, str) and _OPERATION.fullmatch(v) for v in value.values())
    ):
        raise ConfigError(
            f"{where}: desktop.order_form names the operations `quote`, `check` and `place` (and "
            "optionally the agent flow `readback_flow`), e.g. {quote: get_quote, check: check_order, "
            "place: place_order}"
        )
    return OrderForm(**{str(k): str(v) for k, v in value.items()})
