"""Helpers for the order and agent-flow tests: the brokerage's own flows run by the real
engine for a caller (Li Na) who presses 0, a CTI whose order form reaches the real demo back
office through the service's data operations, with a fresh back-office database whose market
is open."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import trio
from cti_support import Cti, MemoryTransport, running_cti

from ivr.adapters.brokerage.clock import ALWAYS_OPEN_ENV
from ivr.adapters.brokerage.db import ENV_VAR
from ivr.adapters.brokerage.testing import fresh_database
from ivr.adapters.cti.flows import desk_flows
from ivr.adapters.cti.orders import OperationsOrderDesk
from ivr.adapters.cti.settings import DeskSettings, OrderForm
from ivr.adapters.hosting.modules import open_service_operations
from ivr.flowlang.ir import Project
from ivr.flowlang.project import load_project
from ivr.runtime.context import CallPorts
from ivr.runtime.engine import CallOutcome, Engine
from ivr.runtime.ports import DataOperations
from ivr.runtime.testing import MemoryCallLeg, MemoryChannels, VirtualWallClock

FLOWS = Path(__file__).parents[2] / "flows"
FORM = OrderForm("get_quote", "check_order", "place_order", "order_readback")
CALLER, ACCOUNT, PIN = "13900139000", "31000002", "314159"  # Li Na (docs/brokerage.md)


def load_brokerage() -> Project:
    project, problems = load_project([FLOWS])
    assert not [d for d in problems if d.is_error]
    return project


def open_back_office(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = fresh_database(tmp_path / "brokerage.sqlite3")
    monkeypatch.setenv(ENV_VAR, str(path))
    monkeypatch.setenv(ALWAYS_OPEN_ENV, "1")  # the wall clock's market is open
    return path


@asynccontextmanager
async def order_cti(project: Project, **kw: object) -> AsyncIterator[tuple[Cti, DataOperations]]:
    """A CTI with the brokerage's agent flows and the order form over its back office (the
    brokerage module on `open_back_office`'s database, without its matching simulator)."""
    assert project.service is not None
    database = Path(os.environ[ENV_VAR])
    async with open_service_operations(
        project.service,
        base_dir=FLOWS,
        data_dir=database.parent,
        settings={"database": database},
        tasks=False,
    ) as operations:
        settings = DeskSettings(order_form=FORM)
        orders = OperationsOrderDesk(operations, FORM)
        flows = desk_flows(project)
        async with running_cti(settings=settings, flows=flows, orders=orders, **kw) as cti:  # type: ignore[arg-type]
            yield cti, operations


@asynccontextmanager
async def desk(project: Project) -> AsyncIterator[tuple[Cti, MemoryTransport, DataOperations]]:
    """`order_cti` with Alice's desktop logged in and ready."""
    async with order_cti(project) as (cti, operations):
        alice = await cti.desktop("8001")
        await alice.ok("state", state="ready")
        yield cti, alice, operations


def caller(
    cti: Cti, project: Project, operations: DataOperations, outcomes: list[CallOutcome]
) -> MemoryCallLeg:
    """Li Na calls 95500, picks Mandarin and presses 0 at the main menu (no PIN keyed yet)."""
    clock = VirtualWallClock(datetime(2026, 11, 27, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    ports = CallPorts(operations, MemoryChannels(), cti.acd, cti.records, clock)
    leg = MemoryCallLeg(call_id="call-1", caller=CALLER, seconds_per_char=0.001)
    leg.press("10")

    async def run() -> None:
        outcomes.append(await Engine(project, ports).run_call(leg, "main"))

    cti.nursery.start_soon(run)
    return leg


async def key_in_flow(leg: MemoryCallLeg, prompt: str, keys: str) -> None:
    with trio.fail_after(10):
        await leg.wait_for(lambda: any(prompt in p.text for p in leg.prompts))
    leg.press(keys)
