"""The example tenants against their real back offices, in-process: the bank's hotline from
its installed wheel over its own card service (HTTP, started here), the fund company's
folder with its one-file module, and the brokerage as a module with its own database."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tenants_support import converse, hosting_file, probe_tenant, running

from ivr.adapters.hosting.plan import plan_hosting
from ivr.adapters.hosting.testing import module_answers
from ivr.flowlang.project import load_project

ROOT = Path(__file__).parents[2]
KEY = "test-key"


@pytest.fixture
def card_service(tmp_path: Path) -> Iterator[str]:
    """The bank's card service on a free port (its own program; here in a thread)."""
    from bank_cards.cardservice import make_server

    server = make_server(0, tmp_path / "cards.sqlite3", KEY)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_bank_answers_from_its_own_installed_wheel_which_matches_its_source() -> None:
    import bank_cards

    installed = Path(bank_cards.__file__).parent
    assert "site-packages" in installed.parts, (
        f"{installed}: bank_cards must come from its wheel (make setup)"
    )
    plan = plan_hosting(ROOT / "hosting.yaml").tenants["bank"]
    assert plan.source == installed / "flows"
    source = ROOT / "tenants" / "bank_cards" / "src" / "bank_cards"
    for path in source.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            copy = installed / path.relative_to(source)
            assert copy.is_file() and _digest(copy) == _digest(path), f"{copy} is stale: run make setup"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_card_service_checks_pins_locks_cards_and_keeps_loss_reports(
    card_service: str, tmp_path: Path
) -> None:
    with httpx.Client(base_url=card_service, headers={"X-Api-Key": KEY}) as bank:
        assert httpx.get(f"{card_service}/v1/cards/6222020200000001/balance").status_code == 401
        verify = "/v1/cards/verify"
        assert bank.post(verify, json={"card": "6222020200000001", "pin": "123456"}).json()["ok"] is True
        answers = [
            bank.post(verify, json={"card": "6222020200000002", "pin": "000000"}).json() for _ in range(4)
        ]
        assert [(a["ok"], a["locked"], a["attempts_left"]) for a in answers] == [
            (False, False, 2), (False, False, 1), (False, True, 0), (False, True, 0)
        ]  # fmt: skip
        assert bank.post(verify, json={"card": "6222020200000002", "pin": "654321"}).json()["locked"] is True
        balance = bank.get("/v1/cards/6222020200000001/balance").json()
        assert (balance["available"], balance["holder_en"]) == ("8888.88", "Wang Fang")
        loss = "/v1/cards/6222020200000001/loss"
        assert bank.post(loss, json={"id_last6": "999999"}).json()["reason"] == "id_mismatch"
        done = bank.post(loss, json={"id_last6": "120015", "caller": "13800000000"}).json()
        assert done["ok"] and done["report_no"].startswith("GS")
        assert bank.post(loss, json={"id_last6": "120015"}).json()["reason"] == "already_lost"
    kept = sqlite3.connect(tmp_path / "cards.sqlite3").execute(
        "SELECT status FROM cards WHERE card LIKE '%0001'"
    )
    assert kept.fetchone() == ("lost",)


def bank_hosting(root: Path, url: str) -> None:
    hosting_file(
        root,
        f'bank: {{package: bank_cards, numbers: ["96688"], settings: {{card_service_url: "{url}", '
        f"card_service_key: {KEY}}}}}\n"
        f'fund: {{folder: {ROOT / "tenants" / "fund"}, numbers: ["40066"]}}\n'
        f'brokerage: {{folder: {ROOT / "flows"}, numbers: ["95500"], settings: {{matching_interval: 0}}}}\n',
    )


async def test_the_bank_hotline_reads_a_balance_and_reports_a_card_lost_through_its_card_service(
    card_service: str, tmp_path: Path
) -> None:
    bank_hosting(tmp_path, card_service)
    async with running(tmp_path) as hosted:
        assert hosted.tenant("bank").state == "serving", hosted.tenant("bank").reason
        balance = await converse(hosted, "96688", ["1", "2", "6222020200000001", "123456"])
        lost = await converse(hosted, "96688", ["2", "1", "6222020200000001", "120015", "1"])
    said = [p.text for p in balance.prompts]
    assert "王芳您好，您尾号零零零一的银行卡可用余额为八千八百八十八元八角八分。" in said
    assert any(
        "The card is reported lost and frozen; the report number is G S 0 0 0 0 0 0 0 1" in p.text
        for p in lost.prompts
    )
    records = sqlite3.connect(tmp_path / "var" / "calls.sqlite3")
    text = " ".join(str(row) for row in records.execute("SELECT * FROM events"))
    assert "123456" not in text and "***" in text  # the PIN went to the bank, never into a record


async def test_the_fund_hotline_reads_a_nav_and_keeps_a_callback_in_its_own_data(tmp_path: Path) -> None:
    bank_hosting(tmp_path, "http://127.0.0.1:9")
    async with running(tmp_path) as hosted:
        nav = await converse(hosted, "40066", ["1", "1", "110011"])
        callback = await converse(hosted, "40066", ["2", "3", "2"], caller="13900139000")
    assert "易方达优质精选混合，二零二六年十一月二十六日单位净值四点三七二一元，日涨跌幅百分之一点二三。" in [
        p.text for p in nav.prompts
    ]
    assert any("Your callback is booked, number 0 0 0 0 0 1" in p.text for p in callback.prompts)
    database = tmp_path / "var" / "tenants" / "fund" / "data" / "fund.sqlite3"
    assert list(sqlite3.connect(database).execute("SELECT caller, topic FROM callbacks")) == [
        ("13900139000", "账户资料")
    ]


async def test_the_brokerage_runs_as_a_module_on_its_own_database_in_its_data_directory(
    tmp_path: Path,
) -> None:
    bank_hosting(tmp_path, "http://127.0.0.1:9")
    async with running(tmp_path) as hosted:
        quote = await converse(hosted, "95500", ["1", "1", "600519"], caller="13700137000")
    assert any("贵州茅台" in p.text for p in quote.prompts)
    assert (tmp_path / "var" / "tenants" / "brokerage" / "data" / "brokerage.sqlite3").is_file()
    assert not (tmp_path / "var" / "brokerage.sqlite3").exists()


async def test_each_example_module_keeps_the_promises_of_its_service_file(
    card_service: str, tmp_path: Path
) -> None:
    """Every operation answers every field its `returns:` declares (the module conformance
    check a tenant runs: `ivr.adapters.hosting.testing.module_answers`)."""
    plan = plan_hosting(ROOT / "hosting.yaml")
    card = {"card": "6222020200000002"}
    calls = {
        "bank": {
            "verify_pin": card | {"pin": "654321"},
            "card_balance": card,
            "report_loss": card | {"id_last6": "350012", "caller": "13800000000"},
        },
        "fund": {
            "fund_nav": {"code": "110011"},
            "subscription_status": {"application": "20261102"},
            "request_callback": {"caller": "13800000000", "topic": "1"},
        },
        "brokerage": {
            "identify_caller": {"caller": "13800138000"},
            "get_quote": {"code": "600519"},
            "market_summary": {},
            "cash_balance": {"account": "31000001"},
            "recent_transactions": {"account": "31000001", "n": 3},
        },
    }
    settings = {
        "bank": {"card_service_url": card_service, "card_service_key": KEY},
        "brokerage": {},
        "fund": {},
    }
    for name, wanted in calls.items():
        tenant = plan.tenants[name]
        assert tenant.project.service is not None and tenant.source is not None
        found = await module_answers(
            tenant.project.service,
            base_dir=tenant.source,
            data_dir=tmp_path / name,
            calls=wanted,
            settings=settings[name],
            module=tenant.module,
        )
        assert found == [], name


async def test_the_conformance_check_names_a_field_a_module_forgot(tmp_path: Path) -> None:
    module = (
        "from ivr.runtime.modules import Module\n\ndef probe(ctx, caller):\n    return {'valu': 1}\n\n"
        "module = Module('f', operations={'probe': probe})\n"
    )
    folder = probe_tenant(tmp_path, "forgetful", "100", module)
    project, _ = load_project([folder])
    assert project.service is not None
    found = await module_answers(
        project.service, base_dir=folder, data_dir=tmp_path / "data", calls={"probe": {"caller": "1"}}
    )
    assert found == ["probe: the answer lacks value (declared in returns:)"]
