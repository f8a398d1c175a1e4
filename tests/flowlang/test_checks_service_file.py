"""Service file checks beyond the schema: SQL placeholders and URL parts against `params`,
time zones against the zone database, calendars that can be, numbers that start flows."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ivr.adapters.data.sqlvalues import placeholders
from ivr.flowlang.compile.service import build_service
from ivr.flowlang.compile.service_checks import is_time_zone, sql_placeholders, time_zone_hint, url_fields
from ivr.flowlang.diagnostics import Diagnostic
from ivr.flowlang.project import load_project
from ivr.flowlang.yamlsource import load_yaml

HEAD = "service: s\nlanguages: [en]\n"


def check(body: str) -> list[Diagnostic]:
    text = HEAD + textwrap.dedent(body)
    loaded = load_yaml(text, "service.yaml")
    _, found = build_service(loaded.data, loaded.source_map, "service.yaml")
    return found


def codes(found: list[Diagnostic]) -> list[tuple[str, int, int]]:
    return [(d.code, d.span.line, d.span.col) for d in found]


STATEMENTS = [
    "SELECT cash FROM accounts WHERE account = :account",
    "SELECT ':not_one' AS x, \"col:umn\" FROM t WHERE a = :a AND b::text = :b",
    "SELECT 1 -- :commented\nFROM t WHERE x = :x /* :also */",
    "UPDATE t SET a = :a, b = :a WHERE id = :id",
    "SELECT '' || :quoted_after_empty FROM t",
]


@pytest.mark.parametrize("statement", STATEMENTS)
def test_placeholders_are_found_as_the_sql_adapter_finds_them(statement: str) -> None:
    assert set(sql_placeholders(statement)) == placeholders(statement)


def test_an_undeclared_placeholder_is_an_error_at_the_placeholder() -> None:
    found = check(
        """\
        operations:
          cash:
            backend: sql
            query: SELECT cash FROM accounts WHERE account = :acount
            params: [account]
        """
    )
    [d] = found
    assert (d.code, d.span.line, d.span.col, d.span.end_col) == ("FL614", 6, 54, 61)
    assert d.hint == "did you mean 'account'?"


def test_placeholders_are_found_in_every_statement_of_a_list_and_in_block_text() -> None:
    found = check(
        """\
        operations:
          deposit:
            backend: sql
            query:
              - INSERT INTO moves (account, amount) VALUES (:account, :amount)
              - |
                UPDATE accounts
                SET cash = cash + :amont
                WHERE account = :account
            params: [account, amount]
        """
    )
    assert codes(found) == [("FL614", 10, 27)]


def test_an_unused_parameter_is_a_warning_but_the_idempotency_key_is_not() -> None:
    found = check(
        """\
        operations:
          deposit:
            backend: sql
            query: INSERT INTO moves (account) VALUES (:account)
            params: [account, amount, request]
            idempotency_key: request
        """
    )
    assert [(d.code, d.message) for d in found] == [
        ("FL615", "parameter 'amount' is never used by the query")
    ]


def test_a_misspelt_placeholder_does_not_also_make_its_parameter_unused() -> None:
    found = check(
        """\
        operations:
          cash:
            backend: sql
            query: SELECT cash FROM accounts WHERE account = :acount
            params: [account]
        """
    )
    assert [d.code for d in found] == ["FL614"]


def test_url_parts_and_scheme_are_checked() -> None:
    found = check(
        """\
        operations:
          rate:
            backend: http
            url: 127.0.0.1:8080/rates/{cod}?day={day}
            params: [code, day]
        """
    )
    assert [(d.code, d.span.col) for d in found] == [("FL112", 10), ("FL614", 31)]
    assert url_fields("http://x/{a}/{b}") == ["a", "b"]


@pytest.mark.parametrize(
    ("zone", "hint"),
    [
        ("Asia/Shangai", "did you mean 'Asia/Shanghai'?"),
        ("asia/shanghai", "zone names are case-sensitive: Asia/Shanghai"),
        ("Beijing", "write the zone database name: Asia/Shanghai"),
        ("UTC+8", "Etc/GMT-8"),
        ("Mars/Olympus", "Area/City"),
    ],
)
def test_an_unknown_time_zone_gets_the_name_to_write(zone: str, hint: str) -> None:
    assert not is_time_zone(zone)
    assert hint in time_zone_hint(zone)


def test_zones_of_the_zone_database_are_accepted() -> None:
    assert all(is_time_zone(z) for z in ("Asia/Shanghai", "UTC", "Europe/London", "Asia/Hong_Kong"))
    assert not is_time_zone("../../etc/passwd")


def test_calendar_periods_and_holidays_must_be_real() -> None:
    found = check(
        """\
        calendars:
          trading:
            timezone: Asia/Shanghai
            hours:
              mon: [["09:30", "11:30"], ["11:00", "15:00"]]
              tue: [["15:00", "13:00"], ["24:30", "24:00"], ["13:00", "24:00"]]
            holidays: ["2026-02-30", "2026-10-01", "2026-10-01"]
        """
    )
    assert [(d.code, d.span.line) for d in found] == [
        ("FL618", 7),
        ("FL617", 8),
        ("FL112", 8),
        ("FL112", 9),
        ("FL618", 9),
    ]


def test_a_calendar_without_opening_hours_is_never_open() -> None:
    found = check("calendars:\n  c: {timezone: UTC, hours: {}}\n")
    assert [d.code for d in found] == ["FL618"]


def test_a_number_cannot_start_a_flow_that_needs_inputs(tmp_path: Path) -> None:
    (tmp_path / "service.yaml").write_text(
        HEAD + 'numbers: {"95500": login, "95501": menu}\n', encoding="utf-8"
    )
    (tmp_path / "login.yaml").write_text(
        "flow: login\nlanguages: [en]\ninputs: {account: {type: string}}\nstart: bye\n"
        "nodes:\n  bye: {type: hangup, prompt: '{account}'}\n",
        encoding="utf-8",
    )
    (tmp_path / "menu.yaml").write_text(
        "flow: menu\nlanguages: [en]\ninputs: {account: {type: string, required: false}}\nstart: bye\n"
        "nodes:\n  bye: {type: hangup, prompt: '{account}'}\n",
        encoding="utf-8",
    )
    _, found = load_project([tmp_path])
    assert [(d.code, d.message) for d in found] == [
        ("FL619", "number 95500 starts flow 'login', which needs the input 'account'")
    ]


def test_the_brokerage_service_is_clean() -> None:
    root = Path(__file__).parents[2]
    _, found = load_project([root / "flows"])
    assert [d for d in found if d.code.startswith("FL6") or d.code == "FL112"] == []
