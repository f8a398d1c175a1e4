"""The brokerage flows end to end against the real demo back office: the compiled project,
the Python data operations in worker threads, an in-memory call leg that keys like a caller."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest
import trio

from ivr.adapters.brokerage import operations as op
from ivr.adapters.brokerage.clock import ALWAYS_OPEN_ENV
from ivr.adapters.brokerage.db import ENV_VAR, connect
from ivr.adapters.brokerage.testing import fresh_database, trading_time
from ivr.adapters.hosting.modules import open_service_operations
from ivr.flowlang.diagnostics import Severity
from ivr.flowlang.project import load_project
from ivr.runtime.context import CallPorts
from ivr.runtime.engine import CallOutcome, Engine
from ivr.runtime.ports import DataOperations
from ivr.runtime.testing import (
    MemoryCallLeg,
    MemoryCallRecords,
    MemoryChannels,
    ScriptedRouting,
    VirtualWallClock,
)

FLOWS = Path(__file__).resolve().parents[2] / "flows"


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = fresh_database(tmp_path / "brokerage.sqlite3")
    monkeypatch.setenv(ENV_VAR, str(path))
    monkeypatch.setenv(ALWAYS_OPEN_ENV, "1")
    return path


def test_flows_check_clean() -> None:
    _, diagnostics = load_project([FLOWS])
    assert [d for d in diagnostics if d.severity >= Severity.WARNING] == []


async def converse(leg: MemoryCallLeg, steps: Sequence[str]) -> CallOutcome:
    """Run `main` and key each step once the engine waits for a digit; hang up after."""
    project, _ = load_project([FLOWS])
    assert project.service is not None
    database = Path(os.environ[ENV_VAR])  # the `db` fixture's, given to the module as its setting
    operations = open_service_operations(
        project.service,
        base_dir=FLOWS,
        data_dir=database.parent,
        settings={"database": database},
        tasks=False,
    )
    clock = VirtualWallClock(trading_time(10, 0))
    outcome: list[CallOutcome] = []

    async def run(data: DataOperations) -> None:
        ports = CallPorts(data, MemoryChannels(), ScriptedRouting(), MemoryCallRecords(), clock)
        outcome.append(await Engine(project, ports).run_call(leg, "main"))

    async def caller() -> None:
        target = 1

        def ready() -> bool:
            return leg.ended or (leg.reads >= target and not leg.pending_digits)

        for keys in [*steps, ""]:
            await leg.wait_for(ready)
            if not keys or leg.ended:
                break
            leg.press(keys)
            target = leg.reads + len(keys)  # the pending read takes the first key
        leg.hang_up()

    with trio.fail_after(30):
        async with operations as data, trio.open_nursery() as nursery:
            nursery.start_soon(run, data)
            nursery.start_soon(caller)
    return outcome[0]


def said(leg: MemoryCallLeg) -> str:
    return "\n".join(p.text for p in leg.prompts)


async def test_phone_order_is_placed_and_its_number_read_back(db: Path) -> None:
    price = str(op.get_quote(code="600036")["last"]).replace(".", "*")
    leg = MemoryCallLeg(caller="13800138000", seconds_per_char=0)
    steps = ["1", "3", "1", "135790#", "1", "1", "600036", "100#", f"{price}#", "1"]
    await converse(leg, steps)
    with connect(db) as conn:
        order_no = conn.execute("SELECT order_no FROM orders WHERE account_no = '31000001'").fetchone()[0]
    digits = "".join("零一二三四五六七八九"[int(d)] for d in order_no)
    assert f"您的委托已受理，委托编号{digits}" in said(leg)
    assert leg.secret_spans == 1
    assert "135790" not in said(leg)


async def test_three_wrong_pins_lock_the_account(db: Path) -> None:
    leg = MemoryCallLeg(caller="13900139000", seconds_per_char=0)
    await converse(leg, ["1", "2", "1", "111111#", "222222#", "333333#"])
    assert "密码验证已被锁定" in said(leg)
    assert op.verify_trading_pin(account="31000002", pin="314159", caller="")["locked"]


async def test_english_quote(db: Path) -> None:
    leg = MemoryCallLeg(caller="10086", seconds_per_char=0)
    await converse(leg, ["2", "1", "600519"])
    assert "Kweichow Moutai, code 6 0 0 5 1 9: last" in said(leg)


async def test_a_lost_card_is_reported_by_id_number_without_the_pin(db: Path) -> None:
    leg = MemoryCallLeg(caller="13600136000", seconds_per_char=0)  # 陈静: trading PIN locked
    await converse(leg, ["1", "5", "2", "320102199002285673#", "1", "1"])
    assert "挂失已受理，挂失编号" in said(leg)
    assert leg.secret_spans == 1 and "320102199002285673" not in said(leg)
    with connect(db) as conn:
        (account,) = conn.execute("SELECT account_no FROM card_loss_reports").fetchone()
    assert account == "31000005"
    assert (
        op.transfer(account="31000005", direction="bank_to_broker", amount="1", idempotency_key="k")["reason"]
        == "card_reported_lost"
    )


async def test_an_id_number_that_is_not_the_accounts_is_refused(db: Path) -> None:
    leg = MemoryCallLeg(caller="10086", seconds_per_char=0)  # not on file: the account is keyed
    await converse(leg, ["1", "5", "2", "110101198003071239#", "31000002#", "1"])
    assert "挂失未能受理：身份证号码与资金账号不符。请重新输入" in said(leg)
    with connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM card_loss_reports").fetchone()[0] == 0
