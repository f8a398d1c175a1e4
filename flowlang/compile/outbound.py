"""Compile the outbound parts: `trunks:` and `campaigns:` of the service, `outbound:` of a flow.

Place: called by `compile/service.py` and `compile/flow.py`; the schema has already
reported every shape problem, so this only builds the IR (forgivingly: defaults where a
value is missing) and reports what the schema cannot see, with the caret on the value:

- FL701 a trunk whose `reserve` leaves no channel for outbound calls;
- FL702 a campaign's `contacts` that name no source, or two (a CSV file and a query);
- FL703 a campaign naming a trunk that is not declared;
- FL604 a campaign naming an undeclared calendar; FL616 an unknown time zone;
- FL712 (warning) `max_concurrent` above what the trunk can give outbound calls;
- FL504 an outbound flow declaring `contact`, `campaign` or `disposition` itself;
- FL720 a followed contact list (`follow:`) without a query or without a `key` column;
- FL721 an `sms_fallback` naming a channel that is not a declared SMS channel.

Checks that need the flows (the campaign's flow is outbound, the contact list has the
fields it reads, dispositions) are in `ivr.flowlang.checks.outbound`.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import cast

from ivr.flowlang.compile.reader import Reader
from ivr.flowlang.compile.service_checks import is_time_zone, time_zone_hint
from ivr.flowlang.compile.values import duration
from ivr.flowlang.diagnostics import Severity, did_you_mean
from ivr.flowlang.ir import (
    OUTBOUND_NAMES,
    RETRY_OUTCOMES,
    CampaignDecl,
    ContactSource,
    MachinePolicy,
    OutboundDecl,
    RetryOutcome,
    RetryRule,
    SmsFallback,
    TrunkAuth,
    TrunkDecl,
    VariableDecl,
)

DEFAULT_RING_TIMEOUT = Decimal(30)
DEFAULT_REGISTER_EXPIRES = Decimal(300)
DEFAULT_RETRY_AFTER = Decimal(600)
_DELAY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)$")
_DELAY_UNITS = {
    "ms": Decimal("0.001"),
    "s": Decimal(1),
    "m": Decimal(60),
    "h": Decimal(3600),
    "d": Decimal(86400),
}


def parse_delay(value: object) -> Decimal | None:
    """Seconds for `30s`, `10m`, `2h`, `1d` or a plain number; None if not a delay."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        seconds = Decimal(value)
        return seconds if seconds.is_finite() and seconds >= 0 else None
    if isinstance(value, str):
        match = _DELAY.match(value.strip())
        if match:
            try:
                return Decimal(match.group(1)) * _DELAY_UNITS[match.group(2)]
            except InvalidOperation:
                return None
    return None


# -- trunks ---------------------------------------------------------------------------------


def build_trunk(r: Reader) -> TrunkDecl:
    name = str(r.path[-1])
    channels = max(1, r.whole("channels", 1))
    reserve = r.whole("reserve", 0)
    if r.has("reserve") and r.has("channels") and reserve >= channels:
        message = f"trunk '{name}' keeps all {channels} channel(s) for inbound calls (reserve {reserve})"
        hint = f"a reserve below channels, e.g. reserve: {max(0, channels // 5)}"
        r.ctx.report("FL701", message, r.span("reserve"), hint, r.at("reserve"))
    caller_id = r.get("caller_id")
    register = r.get("register")
    expires = DEFAULT_REGISTER_EXPIRES
    if isinstance(register, dict):
        expires = duration(Reader(r.ctx, register, r.at("register")), "expires", DEFAULT_REGISTER_EXPIRES)
    transport = r.text("transport", "udp")
    return TrunkDecl(
        name=name,
        gateway=_gateway(r.text("gateway", "") or ""),
        transport="tcp" if transport == "tcp" else "udp",
        channels=channels,
        reserve=min(reserve, channels - 1),
        caller_id=str(caller_id) if isinstance(caller_id, str | int) and caller_id is not True else "",
        auth=_auth(r),
        register=register is True or isinstance(register, dict),
        register_expires=expires,
        span=r.ctx.key_span(r.path),
    )


def _gateway(text: str) -> str:
    return text[4:] if text.startswith("sip:") else text


def _auth(r: Reader) -> TrunkAuth | None:
    raw = r.get("auth")
    if not isinstance(raw, dict):
        return None
    a = Reader(r.ctx, raw, r.at("auth"))
    return TrunkAuth(
        username=a.text("username", "") or "",
        password_env=a.text("password_env", "") or "",
        realm=a.text("realm", "*") or "*",
        span=r.ctx.key_span(r.at("auth")),
    )


# -- campaigns ------------------------------------------------------------------------------


def build_campaign(
    r: Reader, trunks: dict[str, TrunkDecl], calendars: set[str], sms_channels: set[str] | None = None
) -> CampaignDecl:
    name = str(r.path[-1])
    trunk = r.text("trunk", "") or ""
    if trunk and trunks is not None and trunk not in trunks:
        hint = did_you_mean(trunk, trunks) or (
            f"declared trunks: {', '.join(trunks)}" if trunks else "declare it under `trunks:`"
        )
        message = f"campaign '{name}' uses trunk '{trunk}', which is not declared"
        r.ctx.report("FL703", message, r.span("trunk"), hint, r.at("trunk"))
    window = Reader(r.ctx, _mapping(r.get("window")), r.at("window"))
    calendar = window.text("calendar")
    if calendar is not None and calendar not in calendars:
        hint = did_you_mean(calendar, calendars) or "declare it under `calendars:`"
        message = f"campaign '{name}' calls in calendar '{calendar}', which is not declared"
        r.ctx.report("FL604", message, window.span("calendar"), hint, window.at("calendar"))
    zone = window.text("timezone")
    if zone is not None and not is_time_zone(zone):
        message = f"'{zone}' is not a time zone of the zone database"
        r.ctx.report("FL616", message, window.span("timezone"), time_zone_hint(zone), window.at("timezone"))
    pacing = Reader(r.ctx, _mapping(r.get("pacing")), r.at("pacing"))
    max_concurrent = max(1, pacing.whole("max_concurrent", 10))
    _check_concurrency(r, pacing, max_concurrent, trunks.get(trunk))
    rate = pacing.get("calls_per_second")
    machine = r.text("machine", "hang_up")
    return CampaignDecl(
        name=name,
        flow=r.text("flow", "") or "",
        flow_span=r.span("flow"),
        trunk=trunk,
        trunk_span=r.span("trunk"),
        contacts=_contacts(r),
        calendar=calendar,
        calendar_span=window.span("calendar"),
        timezone=zone,
        max_concurrent=max_concurrent,
        calls_per_second=Decimal(rate) if isinstance(rate, int | Decimal) and rate > 0 else Decimal(1),
        ring_timeout=duration(r, "ring_timeout", DEFAULT_RING_TIMEOUT),
        retries=_retries(r),
        machine=cast(MachinePolicy, machine if machine in ("leave_message", "hang_up") else "hang_up"),
        detect_machines=r.flag("detect_machines", True),
        span=r.ctx.key_span(r.path),
        sms_fallback=_sms_fallback(r, sms_channels),
    )


def _sms_fallback(r: Reader, sms_channels: set[str] | None) -> SmsFallback | None:
    if not isinstance(r.get("sms_fallback"), dict):
        return None
    f = Reader(r.ctx, _mapping(r.get("sms_fallback")), r.at("sms_fallback"))
    channel = f.text("channel", "") or ""
    if sms_channels is not None and channel and channel not in sms_channels:
        hint = did_you_mean(channel, sms_channels) or "declare a channel of `kind: sms` under `channels:`"
        message = f"campaign '{r.path[-1]}' falls back to channel '{channel}', which is not an SMS channel"
        r.ctx.report("FL721", message, f.span("channel"), hint, f.at("channel"))
    return SmsFallback(channel, f.text("text", "") or "", r.ctx.key_span(r.at("sms_fallback")))


def _mapping(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def _check_concurrency(r: Reader, pacing: Reader, wanted: int, trunk: TrunkDecl | None) -> None:
    if trunk is None or not pacing.has("max_concurrent"):
        return
    usable = trunk.channels - trunk.reserve
    if wanted > usable:
        message = (
            f"campaign '{r.path[-1]}' may hold {wanted} calls, but trunk '{trunk.name}' gives outbound "
            f"calls at most {usable} ({trunk.channels} channels, {trunk.reserve} kept for inbound)"
        )
        r.ctx.report(
            "FL712",
            message,
            pacing.span("max_concurrent"),
            f"max_concurrent: {usable} or less",
            pacing.at("max_concurrent"),
            Severity.WARNING,
        )


def _contacts(r: Reader) -> ContactSource:
    c = Reader(r.ctx, _mapping(r.get("contacts")), r.at("contacts"))
    csv, query, database = c.text("csv"), c.text("query"), c.text("database")
    if isinstance(r.get("contacts"), dict):
        problem = None
        if csv is None and query is None:
            problem = "names no contact list", "give `csv: contacts.csv` or `query:` with `database:`"
        elif csv is not None and (query is not None or database is not None):
            problem = "names both a CSV file and a query", "keep one source of contacts"
        elif query is not None and database is None:
            problem = "has a query but no database", "add `database:` (a file path or a database URL)"
        if problem is not None:
            message = f"campaign '{r.path[-1]}': `contacts` {problem[0]}"
            r.ctx.report("FL702", message, r.key_span("contacts"), problem[1], r.at("contacts"))
    follow = parse_delay(c.get("follow")) if c.has("follow") else None
    key = c.text("key")
    if follow is not None and (query is None or key is None):
        message = f"campaign '{r.path[-1]}': a followed contact list needs a `query` and a `key` column"
        hint = "each row is one contact, named by its key: `key: id` (a key read again is ignored)"
        r.ctx.report("FL720", message, c.span("follow"), hint, c.at("follow"))
    return ContactSource(
        csv=csv,
        query=query,
        database=database,
        number=c.text("number", "phone") or "phone",
        timezone=c.text("timezone"),
        span=r.ctx.key_span(r.at("contacts")),
        key=key,
        follow=follow,
    )


def _retries(r: Reader) -> dict[RetryOutcome, RetryRule]:
    rules: dict[RetryOutcome, RetryRule] = {}
    for outcome, raw, path in r.mapping("retries"):
        if outcome not in RETRY_OUTCOMES or not isinstance(raw, dict):
            continue
        rule = Reader(r.ctx, raw, path)
        after = parse_delay(rule.get("after"))
        rules[outcome] = RetryRule(
            after=DEFAULT_RETRY_AFTER if after is None else after, times=rule.whole("times", 0)
        )
    return rules


# -- the `outbound:` section of a flow ------------------------------------------------------


def build_outbound(top: Reader, contact: tuple[VariableDecl, ...]) -> OutboundDecl | None:
    """The flow's outbound declaration (None for an inbound flow); FL504 for a name the
    section provides that the flow also declares."""
    raw = top.get("outbound")
    if not isinstance(raw, dict):
        return None if raw is None else OutboundDecl(contact, (), top.ctx.key_span(("outbound",)))
    for section in ("inputs", "outputs", "variables"):
        for name, _, path in top.mapping(section):
            if name in OUTBOUND_NAMES:
                top.ctx.report(
                    "FL504",
                    f"'{name}' is built into an outbound flow and cannot be declared",
                    top.ctx.key_span(path),
                    f"remove it; `{name}` is always there in an outbound flow (docs/outbound.md)",
                    path,
                )
    declared = Reader(top.ctx, raw, ("outbound",))
    return OutboundDecl(contact, declared.strings("dispositions"), top.ctx.key_span(("outbound",)))
