"""Each channel's gateway settings, typed, with `${VARIABLE}` references resolved.

Place: read once when `ivr serve` (or `ivr simulate --deliver`) opens the messaging side,
from the service file's `channels:` (`ChannelDecl.config`, already schema-checked by
`ivr check`) and the environment. `${NAME}` takes the variable (unset: a `ConfigError`
naming it); `${NAME:-default}` takes the default when the variable is unset or empty.
Secrets (passwords, tokens) are kept out of every `repr`, so they cannot reach a log line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Literal, cast
from urllib.parse import urlsplit, urlunsplit

from ivr.adapters.errors import ConfigError
from ivr.flowlang.compile import parse_duration
from ivr.flowlang.ir import ChannelDecl

Security = Literal["none", "starttls", "tls"]
SmsStyle = Literal["json", "form", "query"]
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
DEFAULT_FIELDS: Mapping[SmsStyle, Mapping[str, str | None]] = {
    "json": {"to": "to", "text": "text", "sender": "from", "reference": "reference"},
    "form": {"to": "To", "text": "Body", "sender": "From", "reference": "Reference"},
    "query": {"to": "mobile", "text": "content", "sender": "sender", "reference": "msgid"},
}


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts` in all; after failed attempt n the next waits backoff * 2^(n-1), at most
    `max_backoff` seconds."""

    attempts: int = 6
    backoff: float = 30.0
    max_backoff: float = 3600.0

    def delay(self, attempt: int) -> float:
        return float(min(self.max_backoff, self.backoff * 2 ** max(0, attempt - 1)))


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: Security
    username: str | None
    password: str | None = field(repr=False)
    ca_file: Path | None = None
    helo: str | None = None


@dataclass(frozen=True)
class SmsHttpSettings:
    url: str = field(repr=False)  # a query string may hold a key
    style: SmsStyle
    username: str | None
    password: str | None = field(repr=False)
    token: str | None = field(repr=False)
    headers: Mapping[str, str] = field(repr=False, default_factory=dict)
    params: Mapping[str, str] = field(repr=False, default_factory=dict)
    fields: Mapping[str, str | None] = field(default_factory=dict)
    success_field: str | None = None
    success_equals: str | None = None
    success_body: str | None = None
    id_field: str | None = None

    @property
    def where(self) -> str:
        """The URL without credentials or query string, for messages and logs."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))

    def field_name(self, role: str) -> str | None:
        return self.fields[role] if role in self.fields else DEFAULT_FIELDS[self.style][role]


@dataclass(frozen=True)
class ChannelSettings:
    """One channel: its kind, sender, gateway (None: messages wait in the outbox), retries."""

    name: str
    kind: str
    sender: str | None = None
    subject: str | None = None
    fax_address: str | None = None
    smtp: SmtpSettings | None = None
    http: SmsHttpSettings | None = None
    retry: RetryPolicy = RetryPolicy()
    timeout: float = 30.0
    dedupe: bool = False
    concurrency: int = 1

    @property
    def has_gateway(self) -> bool:
        return self.smtp is not None or self.http is not None

    @property
    def gateway(self) -> str:
        """Where messages go, without secrets: for the banner and `ivr messages`."""
        if self.smtp is not None:
            via = f"smtp://{self.smtp.host}:{self.smtp.port} ({self.smtp.security})"
            return f"fax by e-mail to {self.fax_address} via {via}" if self.kind == "fax" else via
        if self.http is not None:
            return f"{self.http.style} {self.http.where}"
        return "no gateway: messages wait in the outbox"


def channel_settings(decl: ChannelDecl, env: Mapping[str, str]) -> ChannelSettings:
    """The typed settings of one declared channel; `ConfigError` for a value that cannot
    be used (an unset variable, a port that is not a number)."""
    read = _Reader(decl.name, decl.config, env)
    smtp = read.section("smtp")
    http = read.section("http")
    retry = read.section("retry")
    return ChannelSettings(
        name=decl.name,
        kind=decl.kind,
        sender=read.text("from"),
        subject=read.text("subject"),
        fax_address=read.text("fax_address"),
        smtp=_smtp(smtp) if smtp else None,
        http=_http(http) if http else None,
        retry=RetryPolicy(
            attempts=int(retry.number("attempts", 6)),
            backoff=retry.seconds("backoff", 30.0),
            max_backoff=retry.seconds("max_backoff", 3600.0),
        )
        if retry
        else RetryPolicy(),
        timeout=read.seconds("timeout", 30.0),
        dedupe=read.data.get("dedupe") is True,
        concurrency=int(read.number("concurrency", 1)),
    )


def resolve(text: str, env: Mapping[str, str], where: str) -> str:
    """`text` with every `${NAME}` / `${NAME:-default}` replaced from `env`."""

    def value(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = env.get(name)
        if found:
            return found
        if default is not None:
            return default
        if found is not None:
            return found  # set but empty, and no default: empty is what was asked for
        raise ConfigError(f"{where} refers to ${{{name}}}, which is not set in the environment")

    return _REFERENCE.sub(value, text)


@dataclass(frozen=True)
class _Reader:
    channel: str
    data: Mapping[str, object]
    env: Mapping[str, str]
    prefix: str = ""

    def where(self, name: str) -> str:
        return f"channel '{self.channel}': {self.prefix}{name}"

    def section(self, name: str) -> _Reader | None:
        value = self.data.get(name)
        if not isinstance(value, Mapping):
            return None
        return _Reader(self.channel, value, self.env, f"{self.prefix}{name}.")

    def text(self, name: str) -> str | None:
        value = self.data.get(name)
        if value is None:
            return None
        resolved = resolve(str(value), self.env, self.where(name))
        return resolved if resolved != "" else None

    def mapping(self, name: str) -> dict[str, str]:
        value = self.data.get(name)
        items = value.items() if isinstance(value, Mapping) else ()
        return {str(k): resolve(str(v), self.env, self.where(f"{name}.{k}")) for k, v in items}

    def number(self, name: str, default: float) -> float:
        text = self.text(name)
        if text is None:
            return default
        try:
            return float(text)
        except ValueError:
            raise ConfigError(f"{self.where(name)} is {text!r}, not a number") from None

    def seconds(self, name: str, default: float) -> float:
        text = self.text(name)
        if text is None:
            return default
        found = parse_duration(Decimal(text) if text.replace(".", "", 1).isdigit() else text)
        if found is None:
            raise ConfigError(f"{self.where(name)} is {text!r}, not a duration such as 30s or 5m")
        return float(found)

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        text = self.text(name) or default
        if text not in choices:
            raise ConfigError(f"{self.where(name)} is {text!r}; use one of {', '.join(choices)}")
        return text


def _smtp(read: _Reader) -> SmtpSettings:
    security = cast(Security, read.choice("security", ("none", "starttls", "tls"), "starttls"))
    port = int(read.number("port", 465 if security == "tls" else 587 if security == "starttls" else 25))
    if not 0 < port < 65536:
        raise ConfigError(f"{read.where('port')} is {port}, not a port")
    ca_file = read.text("ca_file")
    return SmtpSettings(
        host=read.text("host") or "127.0.0.1",
        port=port,
        security=security,
        username=read.text("username"),
        password=read.text("password"),
        ca_file=Path(ca_file) if ca_file else None,
        helo=read.text("helo"),
    )


def _http(read: _Reader) -> SmsHttpSettings:
    style = cast(SmsStyle, read.choice("style", ("json", "form", "query"), "json"))
    url = read.text("url") or ""
    if urlsplit(url).scheme not in ("http", "https"):
        raise ConfigError(f"{read.where('url')} must be an http:// or https:// URL")
    success = read.section("success")
    fields = read.data.get("fields")
    return SmsHttpSettings(
        url=url,
        style=style,
        username=read.text("username"),
        password=read.text("password"),
        token=read.text("token"),
        headers=read.mapping("headers"),
        params=read.mapping("params"),
        fields={str(k): (None if v is None else str(v)) for k, v in fields.items()}
        if isinstance(fields, Mapping)
        else {},
        success_field=success.text("json_field") if success else None,
        success_equals=success.text("equals") if success else None,
        success_body=success.text("body") if success else None,
        id_field=read.text("id_field"),
    )
