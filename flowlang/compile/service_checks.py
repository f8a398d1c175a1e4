"""Checks of the service file beyond its shape: what the back ends and the clock will find.

The SQL adapter refuses, when serving, a query whose `:name` placeholders are not declared
`params`, and the HTTP adapter a URL with an undeclared `{name}` or without http(s); a
calendar's time zone must be in the zone database and its periods real. flowlang cannot
import the adapters, so the same rules are checked here, statically, with the caret on the
placeholder, the period or the date: FL613 (an idempotency key that is not a parameter),
FL614 (undeclared parameter), FL615 (parameter never
used by a query), FL616 (unknown time zone), FL617 (a period that ends before it starts),
FL618 (overlapping periods, a calendar never open), FL112 (an impossible time or date,
a URL that is not http).
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import itertools
import re
import zoneinfo
from collections.abc import Iterator

from ivr.flowlang.compile.reader import Reader
from ivr.flowlang.diagnostics import Severity, did_you_mean

# Quoted text is skipped (a ':x' inside 'a:x' is no placeholder), as are `::type` casts.
_SQL_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|::|:([A-Za-z_]\w*)")
_SQL_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_URL_FIELD = re.compile(r"\{([A-Za-z_]\w*)\}")


def sql_placeholders(statement: str) -> list[str]:
    """The `:name` parameters of a statement, in order, outside quoted text and comments
    (the rule of the SQL adapter, `ivr.adapters.data.sqlvalues.placeholders`)."""
    text = _SQL_COMMENT.sub(" ", statement)
    return [m.group(1) for m in _SQL_TOKENS.finditer(text) if m.group(1)]


def url_fields(url: str) -> list[str]:
    """The `{name}` parts of an HTTP operation's URL, in order."""
    return _URL_FIELD.findall(url)


def check_operation(r: Reader) -> None:
    backend = r.text("backend")
    params = list(r.strings("params"))
    _check_idempotency_key(r, params)
    if backend == "sql":
        _check_sql(r, params)
    elif backend == "http":
        _check_url(r, params)


def _check_idempotency_key(r: Reader, params: list[str]) -> None:
    """FL613: the `idempotency_key` names one of the params (the key every retry of a money
    or order operation carries, so the back end never acts twice)."""
    key = r.text("idempotency_key")
    if key is None or key in params:
        return
    hint = did_you_mean(key, params) or f"add '{key}' to params: [{', '.join([*params, key])}]"
    message = f"operation '{r.path[-1]}' has idempotency_key '{key}', which is not one of its params"
    r.ctx.report("FL613", message, r.span("idempotency_key"), hint, r.at("idempotency_key"))


def _statements(r: Reader) -> Iterator[tuple[str, tuple[str | int, ...]]]:
    query = r.get("query")
    if isinstance(query, str):
        yield query, r.at("query")
    elif isinstance(query, list):
        for i, statement in enumerate(query):
            if isinstance(statement, str):
                yield statement, (*r.at("query"), i)


def _check_sql(r: Reader, params: list[str]) -> None:
    used: set[str] = set()
    for statement, path in _statements(r):
        seen: dict[str, int] = {}
        for name in sql_placeholders(statement):
            occurrence = seen.get(name, 0)
            seen[name] = occurrence + 1
            used.add(name)
            if name in params:
                continue
            span = r.ctx.source_map.find(path, f":{name}", occurrence) or r.ctx.value_span(path)
            # the misspelt placeholder is the use of the parameter it meant: not "never used" too
            used.update(difflib.get_close_matches(name, params, n=1, cutoff=0.6))
            hint = (
                did_you_mean(name, params)
                or f"add it to the operation's params: [{', '.join([*params, name])}]"
            )
            message = f"the query uses :{name}, which is not one of the operation's params"
            r.ctx.report("FL614", message, span, hint, path)
    statements = list(_statements(r))
    for index, name in enumerate(params):
        if name not in used and statements and name != r.text("idempotency_key"):
            path = (*r.at("params"), index)
            message = f"parameter '{name}' is never used by the query"
            hint = f"use it as :{name} in the query, or remove it from params"
            r.ctx.report("FL615", message, r.ctx.value_span(path), hint, path, Severity.WARNING)


def _check_url(r: Reader, params: list[str]) -> None:
    url = r.text("url")
    if url is None:
        return
    path = r.at("url")
    if not re.match(r"^https?://", url):
        span = r.ctx.value_span(path)
        r.ctx.report(
            "FL112",
            f"'{url}' is not an http:// or https:// URL",
            span,
            "write the full URL, e.g. http://127.0.0.1:8080/rates/{code}",
            path,
        )
    seen: dict[str, int] = {}
    for name in url_fields(url):
        occurrence = seen.get(name, 0)
        seen[name] = occurrence + 1
        if name in params:
            continue
        span = r.ctx.source_map.find(path, f"{{{name}}}", occurrence) or r.ctx.value_span(path)
        hint = (
            did_you_mean(name, params) or f"add it to the operation's params: [{', '.join([*params, name])}]"
        )
        r.ctx.report(
            "FL614", f"the URL uses {{{name}}}, which is not one of the operation's params", span, hint, path
        )


# -- calendars -------------------------------------------------------------------------------

_ZONE_ALIASES = {
    "beijing": "Asia/Shanghai",
    "china": "Asia/Shanghai",
    "cst": "Asia/Shanghai",
    "shanghai": "Asia/Shanghai",
    "hong kong": "Asia/Hong_Kong",
    "hongkong": "Asia/Hong_Kong",
    "taipei": "Asia/Taipei",
    "tokyo": "Asia/Tokyo",
    "singapore": "Asia/Singapore",
    "london": "Europe/London",
    "new york": "America/New_York",
    "gmt": "UTC",
}


@functools.cache
def _zone_names() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def is_time_zone(name: str) -> bool:
    """Whether `name` is in the zone database (the system's, or the tzdata package's)."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def time_zone_hint(name: str) -> str:
    alias = _ZONE_ALIASES.get(name.strip().lower())
    if alias:
        return f"write the zone database name: {alias}"
    offset = re.match(r"^(?:UTC|GMT)\s*([+-])\s*(\d{1,2})$", name.strip(), re.IGNORECASE)
    if offset:
        sign = "-" if offset.group(1) == "+" else "+"
        fixed = f"Etc/GMT{sign}{int(offset.group(2))}"
        return f"name the place (e.g. Asia/Shanghai for UTC+8); a fixed offset is {fixed}"
    lowered = {n.lower(): n for n in _zone_names()}
    if name.lower() in lowered:
        return f"zone names are case-sensitive: {lowered[name.lower()]}"
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.8)
    if close:
        return f"did you mean '{lowered[close[0]]}'?"
    return "use an Area/City name from the zone database, e.g. Asia/Shanghai"


def check_calendar(r: Reader) -> None:
    zone = r.text("timezone")
    if zone is not None and not is_time_zone(zone):
        path = r.at("timezone")
        message = f"'{zone}' is not a time zone of the zone database"
        r.ctx.report("FL616", message, r.ctx.value_span(path), time_zone_hint(zone), path)
    written = 0
    for day, periods, path in r.mapping("hours"):
        if isinstance(periods, list):
            _check_periods(r, str(day), periods, path)
            written += len(periods)
    if r.has("hours") and written == 0:
        message = f"calendar '{r.path[-1]}' is never open: no day has an opening period"
        r.ctx.report(
            "FL618",
            message,
            r.key_span("hours"),
            'give at least one day its hours, e.g. mon: [["09:00", "17:00"]]',
            r.at("hours"),
            Severity.WARNING,
        )
    _check_holidays(r)


def _minutes(text: object) -> int | None:
    if not isinstance(text, str) or not re.match(r"^\d{2}:\d{2}$", text):
        return None
    hours, minutes = int(text[:2]), int(text[3:])
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        return None
    return hours * 60 + minutes


def _check_periods(r: Reader, day: str, periods: list[object], path: tuple[str | int, ...]) -> None:
    """FL112 for a time that is not one, FL617 for a period that ends before it starts, FL618
    for periods that overlap."""
    usable: list[tuple[int, int, int]] = []
    for index, period in enumerate(periods):
        if not (isinstance(period, list) and len(period) == 2):
            continue
        here = (*path, index)
        bounds = [_minutes(value) for value in period]
        for side, (value, minutes) in enumerate(zip(period, bounds, strict=True)):
            if minutes is None and isinstance(value, str) and re.match(r"^\d{2}:\d{2}$", value):
                message = f"{value} is not a time of day"
                hint = 'times run from "00:00" to "23:59"; "24:00" ends a period at midnight'
                r.ctx.report("FL112", message, r.ctx.value_span((*here, side)), hint, (*here, side))
        start, end = bounds
        if start is None or end is None:
            continue
        if end <= start:
            message = f"{day}: the period {period[0]}-{period[1]} ends before it starts"
            hint = (
                f'write the earlier time first: ["{period[1]}", "{period[0]}"]'
                if end < start
                else "give the period some length"
            )
            r.ctx.report("FL617", message, r.ctx.value_span(here), hint, here)
            continue
        usable.append((start, end, index))
    usable.sort()
    for (_, first_end, first), (second_start, _, second) in itertools.pairwise(usable):
        if second_start < first_end:
            here = (*path, second)
            message = f"{day}: periods {first + 1} and {second + 1} overlap"
            r.ctx.report(
                "FL618",
                message,
                r.ctx.value_span(here),
                "make each period start after the one before ends",
                here,
                Severity.WARNING,
            )


def _check_holidays(r: Reader) -> None:
    seen: set[str] = set()
    raw = r.get("holidays")
    for index, day in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(day, str) or not re.match(r"^\d{4}-\d{2}-\d{2}$", day):
            continue
        path = (*r.at("holidays"), index)
        try:
            dt.date.fromisoformat(day)
        except ValueError:
            r.ctx.report(
                "FL112",
                f"{day} is not a date",
                r.ctx.value_span(path),
                "check the month and the day (YYYY-MM-DD)",
                path,
            )
            continue
        if day in seen:
            r.ctx.report(
                "FL618",
                f"holiday {day} is listed twice",
                r.ctx.value_span(path),
                "remove the repeat",
                path,
                Severity.WARNING,
            )
        seen.add(day)
