"""The hosting file: which tenants one `ivr serve` hosts, their numbers, seats and tokens.

Place: flowlang's reading of `hosting.yaml` (pure, like flows): text -> `yamlsource` ->
`validation` (the hosting schema, FL1xx) -> `HostingDecl` -> the checks that need only this
file (FL801-FL803, FL815). What needs the tenants' flows is `ivr.flowlang.tenancy`; what
needs their Python modules is the hosting adapter's. Never raises for a user mistake.

    # yaml-language-server: $schema=schema/hosting.schema.json
    hosting: demo-center
    timezone: Asia/Shanghai
    operator: {token_sha256: 64 hex digits}
    tenants:
      bank:
        package: bank_cards            # or  folder: tenants/fund
        numbers: ["95588"]
        seats: {calls: 40, agents: 10, overflow: 4}
        overflow_flow: busy
        agents: config/bank-agents.yaml
        token_sha256: 64 hex digits
        settings: {card_service_url: "http://127.0.0.1:8710"}
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from ivr.flowlang.compile.reader import Context, Reader
from ivr.flowlang.diagnostics import Diagnostic, Severity, Span, rank
from ivr.flowlang.validation import validate_hosting
from ivr.flowlang.yamlsource import decode_source, load_yaml

__all__ = ["HostingDecl", "Seats", "TenantDecl", "is_hosting_text", "load_hosting", "load_hosting_text"]

HOSTING_FILE = "hosting.yaml"


@dataclass(frozen=True)
class Seats:
    """A tenant's seat quota. `calls` None: no quota (the tenant shares the capacity no tenant
    reserved); `overflow`: extra calls beyond `calls` that hear the overflow flow."""

    calls: int | None = None
    agents: int | None = None
    overflow: int = 0

    @property
    def reserved(self) -> int:
        """Call capacity this tenant holds for itself."""
        return (self.calls or 0) + (self.overflow if self.calls else 0)


@dataclass(frozen=True)
class TenantDecl:
    """One tenant as the hosting file declares it (paths as written, relative to the file)."""

    name: str
    span: Span
    folder: str | None = None
    package: str | None = None
    source_span: Span | None = None
    numbers: tuple[str, ...] = ()
    number_spans: Mapping[str, Span] = field(default_factory=dict)
    seats: Seats = Seats()
    overflow_flow: str | None = None
    overflow_span: Span | None = None
    agents: str | None = None
    agents_span: Span | None = None
    token_sha256: str | None = None
    settings: Mapping[str, object] = field(default_factory=dict)
    description: str = ""

    def number_span(self, number: str) -> Span:
        return self.number_spans.get(number, self.span)


@dataclass(frozen=True)
class HostingDecl:
    """The hosting file: tenants by name, the operator's token, the reporting time zone."""

    name: str
    file: str
    span: Span
    tenants: Mapping[str, TenantDecl]
    timezone: str = "UTC"
    operator_token_sha256: str | None = None
    database_url: str | None = None  # PostgreSQL shared by the instances (docs/cluster.md)

    @property
    def folder(self) -> Path:
        return Path(self.file).parent

    def tenant_of(self, number: str) -> TenantDecl | None:
        return next((t for t in self.tenants.values() if number in t.numbers), None)


def is_hosting_text(text: str) -> bool:
    """Cheap test for a document with a top-level `hosting:` key (before a full load)."""
    return any(line.startswith("hosting:") for line in text.splitlines())


def load_hosting(path: str | Path) -> tuple[HostingDecl | None, dict[str, str], list[Diagnostic]]:
    """Read and check a hosting file: the declaration, its source text by file, diagnostics."""
    file = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        message = f"the hosting file cannot be read: {exc.strerror}"
        return None, {}, [Diagnostic("FL009", Severity.ERROR, message, Span(file, 1, 1))]
    text, problems = decode_source(raw, file)
    if text is None:
        return None, {}, problems
    hosting, found = load_hosting_text(text, file)
    return hosting, {file: text}, found


def load_hosting_text(text: str, file: str) -> tuple[HostingDecl | None, list[Diagnostic]]:
    """The hosting declaration in `text` (None when it is not a mapping), with diagnostics."""
    loaded = load_yaml(text, file)
    found = list(loaded.diagnostics)
    data = loaded.data
    if not isinstance(data, dict):
        if loaded.data is not None or not found:
            message = "a hosting file is a mapping that starts with `hosting: <name>`"
            found.append(Diagnostic("FL103", Severity.ERROR, message, loaded.source_map.value(())))
        return None, rank(found)
    ctx = Context(file, loaded.source_map)
    ctx.diagnostics.extend(validate_hosting(data, loaded.source_map))
    top = Reader(ctx, data, ())
    operator = top.get("operator")
    hosting = HostingDecl(
        name=top.text("hosting") or "hosting",
        file=file,
        span=ctx.value_span(("hosting",)),
        tenants={name: _tenant(Reader(ctx, raw, path)) for name, raw, path in _tenants(top)},
        timezone=top.text("timezone") or "UTC",
        operator_token_sha256=_token(operator.get("token_sha256") if isinstance(operator, dict) else None),
        database_url=_database_url(top.get("database")),
    )
    ctx.diagnostics.extend(_checks(hosting, top))
    return hosting, rank(ctx.diagnostics)


def _database_url(database: object) -> str | None:
    url = database.get("url") if isinstance(database, dict) else None
    return url if isinstance(url, str) and url else None


def _tenants(top: Reader) -> Iterator[tuple[str, dict[str, object], tuple[str | int, ...]]]:
    for name, raw, path in top.mapping("tenants"):
        yield name, raw if isinstance(raw, dict) else {}, path


def _tenant(r: Reader) -> TenantDecl:
    numbers = r.strings("numbers")
    listed = r.get("numbers")
    spans = {
        number: r.ctx.value_span((*r.at("numbers"), index))
        for index, number in enumerate(listed if isinstance(listed, list) else [])
        if isinstance(number, str)
    }
    seats = r.get("seats")
    seat = Reader(r.ctx, seats if isinstance(seats, dict) else {}, r.at("seats"))
    source = "folder" if r.has("folder") else "package"
    settings = r.get("settings")
    return TenantDecl(
        name=str(r.path[-1]),
        span=r.ctx.key_span(r.path),
        folder=r.text("folder"),
        package=r.text("package"),
        source_span=r.span(source) if r.has(source) else None,
        numbers=numbers,
        number_spans=spans,
        seats=Seats(_count(seat, "calls"), _count(seat, "agents"), _count(seat, "overflow") or 0),
        overflow_flow=r.text("overflow_flow"),
        overflow_span=r.span("overflow_flow") if r.has("overflow_flow") else None,
        agents=r.text("agents"),
        agents_span=r.span("agents") if r.has("agents") else None,
        token_sha256=_token(r.get("token_sha256")),
        settings=dict(settings) if isinstance(settings, dict) else {},
        description=r.text("description") or "",
    )


def _count(r: Reader, name: str) -> int | None:
    value = r.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _token(value: object) -> str | None:
    return value.lower() if isinstance(value, str) and len(value) == 64 else None


def _checks(hosting: HostingDecl, top: Reader) -> Iterator[Diagnostic]:
    """The rules of one hosting file that its schema cannot say well."""
    owner: dict[str, str] = {}
    for tenant in hosting.tenants.values():
        if (tenant.folder is None) == (tenant.package is None):
            both = tenant.folder is not None
            message = (
                f"tenant '{tenant.name}' names both a folder and a package"
                if both
                else f"tenant '{tenant.name}' has neither a folder nor a package"
            )
            hint = "give `folder: <path>` (flows and service.yaml) or `package: <entry point>`, not both"
            yield Diagnostic("FL801", Severity.ERROR, message, tenant.span, hint, ("tenants", tenant.name))
        for number in tenant.numbers:
            first = owner.setdefault(number, tenant.name)
            if first != tenant.name:
                message = f"number {number} is leased to tenant '{first}' already"
                hint = "a dialed number belongs to one tenant; give this one another number"
                yield Diagnostic("FL802", Severity.ERROR, message, tenant.number_span(number), hint)
        if tenant.seats.overflow and tenant.overflow_flow is None:
            message = (
                f"tenant '{tenant.name}' allows {tenant.seats.overflow} overflow call(s) but names no flow"
            )
            hint = "add `overflow_flow: <flow>` (a short 'all lines are busy' flow), or drop `overflow`"
            yield Diagnostic("FL815", Severity.WARNING, message, tenant.span, hint)
        if tenant.overflow_flow is not None and not tenant.seats.calls:
            message = f"tenant '{tenant.name}' has an overflow flow but no call quota (seats: calls)"
            hint = "the overflow flow answers calls beyond `seats: {calls: N}`; set N"
            yield Diagnostic("FL815", Severity.WARNING, message, tenant.overflow_span or tenant.span, hint)
    if top.has("timezone") and not _known_zone(hosting.timezone):
        message = f"'{hosting.timezone}' is not a time zone"
        yield Diagnostic(
            "FL803",
            Severity.ERROR,
            message,
            top.span("timezone"),
            "use an IANA name such as Asia/Shanghai or UTC",
        )
    if hosting.database_url is not None and _has_password(hosting.database_url):
        message = "the database URL holds a password; a hosting file is no place for one"
        hint = "write postgresql://user@host:port/name and give the password in PGPASSWORD or ~/.pgpass"
        where = top.ctx.value_span(("database", "url"))
        yield Diagnostic("FL816", Severity.ERROR, message, where, hint, ("database", "url"))


def _has_password(url: str) -> bool:
    """True when `url` carries a password (after `user:` or as a `password=` parameter)."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return False
    return bool(password) or "password=" in parts.query


def _known_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True
