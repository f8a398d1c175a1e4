"""Compile the service's message channels: kind, gateway settings, and the two problems the
schema cannot see.

FL620: a secret (an SMTP or gateway password, an API token, a key in a header or a query
parameter) is written into the file instead of referenced as `${VARIABLE}`; secrets live in
the environment, never in YAML (they would end up in version control and in logs).
FL621: a gateway setting does not fit the channel's kind (`http:` on an e-mail channel), or
a setting the gateway cannot do without is missing (`from`, `fax_address`).
The settings are kept as written (`ChannelDecl.config`); the messaging adapter resolves the
`${VARIABLE}` references when `ivr serve` starts (docs/channels.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ivr.flowlang.compile.reader import Reader
from ivr.flowlang.ir import ChannelDecl, SmsKeyword
from ivr.flowlang.yamlsource import YamlPath

ENV_REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}")
SECRET_NAME = re.compile(r"pass|pwd|secret|token|key|sign|auth", re.IGNORECASE)
KIND_SETTINGS = {
    "sms": frozenset({"http"}),
    "email": frozenset({"smtp", "subject"}),
    "fax": frozenset({"smtp", "fax_address", "subject"}),
}
_GATEWAY_SETTINGS = frozenset().union(*KIND_SETTINGS.values())


def channel(r: Reader) -> ChannelDecl:
    """One channel declaration; its problems go to the reader's diagnostics."""
    kind = r.text("kind", "sms") or "sms"
    decl = ChannelDecl(
        str(r.path[-1]),
        kind,
        r.ctx.key_span(r.path),
        {k: v for k, v in r.data.items() if k not in ("kind", "description")},
        _keywords(r),
    )
    for path, what in _literal_secrets(r):
        message = f"channel '{decl.name}': {what} is written into the service file"
        variable = re.sub(r"[^A-Z0-9]+", "_", "_".join(str(p) for p in path[1:]).upper())
        hint = f"put it in an environment variable and write `{path[-1]}: ${{{variable}}}` here"
        r.ctx.report("FL620", message, r.ctx.value_span(path), hint, path)
    if kind in KIND_SETTINGS:
        for path, message, hint in _misfits(r, decl.name, kind):
            r.ctx.report("FL621", message, r.ctx.key_span(path), hint, path)
    return decl


def _keywords(r: Reader) -> tuple[SmsKeyword, ...]:
    """The inbound keyword table (its shape is the schema's business; the flows it names are
    checked with the project, FL622/FL623)."""
    inbound = r.get("inbound")
    table = inbound.get("keywords") if isinstance(inbound, dict) else None
    found: list[SmsKeyword] = []
    for word, entry in table.items() if isinstance(table, dict) else ():
        if not isinstance(entry, dict):
            continue
        flow, args, reply = entry.get("flow"), entry.get("args"), entry.get("reply")
        found.append(
            SmsKeyword(
                str(word),
                r.ctx.key_span((*r.path, "inbound", "keywords", word)),
                flow if isinstance(flow, str) else None,
                tuple(a for a in args if isinstance(a, str)) if isinstance(args, list) else (),
                entry.get("do_not_call") is True,
                reply if isinstance(reply, str) else None,
            )
        )
    return tuple(found)


def is_reference(value: object) -> bool:
    """True for text that is exactly one `${VARIABLE}` or `${VARIABLE:-default}`."""
    return isinstance(value, str) and ENV_REFERENCE.fullmatch(value.strip()) is not None


def _literal_secrets(r: Reader) -> Iterator[tuple[YamlPath, str]]:
    secrets = (("smtp", "password"), ("http", "password"), ("http", "token"), ("inbound", "secret"))
    for section, name in secrets:
        settings = r.data.get(section)
        if isinstance(settings, dict) and _literal(settings.get(name)):
            yield (*r.path, section, name), f"the {section} {name}"
    http = r.data.get("http")
    for group in ("headers", "params"):
        values = http.get(group) if isinstance(http, dict) else None
        for key, value in values.items() if isinstance(values, dict) else ():
            if SECRET_NAME.search(str(key)) and _literal(value):
                yield (*r.path, "http", group, key), f"the value of {group[:-1]} '{key}'"


def _literal(value: object) -> bool:
    return isinstance(value, str) and value.strip() != "" and not is_reference(value)


def _misfits(r: Reader, name: str, kind: str) -> Iterator[tuple[YamlPath, str, str]]:
    fits = KIND_SETTINGS[kind]
    for setting in sorted(_GATEWAY_SETTINGS & set(r.data) - fits):
        owners = " or ".join(k for k, settings in KIND_SETTINGS.items() if setting in settings)
        message = f"channel '{name}' is of kind {kind}: `{setting}` belongs to {owners} channels"
        article = "an" if kind == "email" else "a"
        hint = f"{article} {kind} channel's gateway settings: {', '.join(sorted(fits))}"
        yield r.at(setting), message, hint
    if "smtp" in r.data and kind in ("email", "fax") and "from" not in r.data:
        message = f"channel '{name}' sends through `smtp:` and needs `from: <address>`"
        yield r.at("smtp"), message, 'e.g. from: "95500 <statements@broker.example>"'
    if kind == "fax" and "smtp" in r.data and "fax_address" not in r.data:
        message = f"channel '{name}' faxes by e-mail and needs `fax_address`"
        hint = 'the fax gateway\'s address, e.g. fax_address: "{number}@fax.example.com"'
        yield r.at("smtp"), message, hint
