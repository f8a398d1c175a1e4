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
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields

from ivr.adapters.errors import ConfigError

_ORIGIN = re.compile(r"https?://(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?")
_REASON = re.compile(r"[a-z][a-z0-9_]{0,31}")
LANGUAGES = ("zh", "en")


@dataclass(frozen=True)
class DeskSettings:
    frame_ancestors: tuple[str, ...] = ()  # none: no page may embed the desktop
    not_ready_reasons: tuple[str, ...] = ("break", "training", "back_office")
    session_hours: float = 12.0
    max_failures: int = 5
    max_address_failures: int = 20
    lockout_minutes: float = 15.0
    language: str = "zh"

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
    if name == "language":
        if value not in LANGUAGES:
            raise ConfigError(f"{where}: desktop.language is one of {', '.join(LANGUAGES)}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{where}: desktop.{name} is a positive number")
    return int(value) if name.startswith("max_") else float(value)
