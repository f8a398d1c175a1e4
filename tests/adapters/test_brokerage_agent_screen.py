"""A caller who fails to place an order and presses 0 pops up on the agent's desktop with
the draft order: the brokerage flows, the real demo back office, the trio ACD and the
in-memory agent connector (what the desktop is handed), screen data made JSON-safe by the
CTI as it would be sent."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest
import trio

from ivr.adapters.brokerage.clock import ALWAYS_OPEN_ENV
from ivr.adapters.brokerage.db import ENV_VAR
from ivr.adapters.brokerage.testing import fresh_database, trading_time
from ivr.adapters.cti.protocol import safe_screen
from ivr.adapters.hosting.modules import open_service_operations
from ivr.flowlang.project import load_project
from ivr.runtime.acd import AcdSettings, open_acd, queue_configs
from ivr.runtime.context import CallPorts
from ivr.runtime.engine import CallOutcome, Engine
from ivr.runtime.testing import MemoryCallLeg, MemoryCallRecords, MemoryChannels, VirtualWallClock
from ivr.runtime.testing.acd import AgentAnswer, MemoryAgentConnector

FLOWS = Path(__file__).resolve().parents[2] / "flows"


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = fresh_database(tmp_path / "brokerage.sqlite3")
    monkeypatch.setenv(ENV_VAR, str(path))
    monkeypatch.setenv(ALWAYS_OPEN_ENV, "1")
    return path


async def call_through_the_acd(
    leg: MemoryCallLeg, steps: Sequence[str], connector: MemoryAgentConnector
) -> CallOutcome:
    """Run `main` with an agent logged in; key each step once the engine waits for a key."""
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
    settings = AcdSettings(queue_configs(project.service.queues, announce_every=None))
    outcome: list[CallOutcome] = []

    async def caller() -> None:
        target = 1
        for keys in steps:
            await leg.wait_for(lambda t=target: leg.ended or (leg.reads >= t and not leg.pending_digits))  # type: ignore[misc]
            leg.press(keys)
            target = leg.reads + len(keys)

    with trio.fail_after(60):
        async with operations as data, open_acd(connector, settings) as acd, trio.open_nursery() as nursery:
            acd.login("8001", "sip:8001@127.0.0.1", {"general": 3, "orders": 3}, ready=True)
            ports = CallPorts(
                data, MemoryChannels(), acd, MemoryCallRecords(), VirtualWallClock(trading_time(10, 0))
            )
            nursery.start_soon(caller)
            outcome.append(await Engine(project, ports).run_call(leg, "main"))
            nursery.cancel_scope.cancel()
    return outcome[0]


async def test_a_refused_order_then_0_pops_up_with_the_draft_order(db: Path) -> None:
    connector = MemoryAgentConnector(default=AgentAnswer(ring=0.1, talk=0.2))  # real time: worker threads
    leg = MemoryCallLeg(caller="13900139000", seconds_per_char=0)  # 李娜, account 31000002
    steps = ["1", "3", "1", "314159#", "1", "1", "600036", "100#", "99*99#", "1", "0"]
    outcome = await call_through_the_acd(leg, steps, connector)
    assert "委托未能受理：委托价格超出涨跌幅限制" in "\n".join(p.text for p in leg.prompts)
    [ring] = connector.rings
    assert ring.answer == "answered" and outcome.how == "completed"
    screen = safe_screen(ring.screen)  # what the desktop receives
    context = screen["ivr_context"]
    assert isinstance(context, dict)
    shown = {f["name"]: f["value"] for f in context["fields"]}
    assert shown["draft"] == "沪市买入 600036 招商银行，100股，限价99.99元"
    assert shown["refused"] == "委托价格超出涨跌幅限制"
    assert shown["service"] == "电话委托" and screen["verified"] is True
    assert list(dict.fromkeys(f["flow"] for f in context["fields"])) == ["main", "orders", "authenticate"]
    labels = {f["name"]: f["label"] for f in context["fields"]}
    assert labels["draft"] == {"zh": "委托草稿", "en": "Draft order"}
    assert screen["ivr_path"][-2:] == ["orders.confirm_order:next", "orders.after_order:agent"]
    assert screen["account"] == "31000002" and screen["customer"] == "李娜"
    assert "314159" not in str(screen)  # the trading PIN never reaches the desktop
