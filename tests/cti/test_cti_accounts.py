"""Agent accounts, passwords and tokens: scrypt hashes, the agents file's checks, the
SQLite store, and tokens that expire and can be revoked."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trio.testing
from cti_support import PASSWORDS, demo_agents

from ivr.adapters.cti import AccountsError, AgentAccount, SqliteAgentStore, hash_password, load_agents_file
from ivr.adapters.cti.accounts import authenticate, verify_password
from ivr.adapters.cti.protocol import is_secret_name, safe_screen
from ivr.adapters.cti.tokens import TokenBook


def test_hashes_are_salted_and_verify_only_the_right_password() -> None:
    first, second = hash_password("s3cret"), hash_password("s3cret")
    assert first != second and first.startswith("scrypt$")
    assert verify_password("s3cret", first) and verify_password("s3cret", second)
    assert not verify_password("s3cret!", first)
    assert not verify_password("s3cret", "scrypt$garbage") and not verify_password("x", "")


def test_the_demo_agents_log_in_with_their_documented_passwords() -> None:
    agents = demo_agents()
    for extension, password in PASSWORDS.items():
        account = authenticate(agents, extension, password)
        assert account is not None and account.extension == extension
    assert authenticate(agents, "8001", PASSWORDS["8002"]) is None
    assert authenticate(agents, "9999", "anything") is None


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ('{extension: "1", password: x, phone: "sip:1@h"}', "plain `password` is not allowed"),
        ('{extension: "1", phone: "sip:1@h"}', "missing password_hash"),
        ('{extension: "1", password_hash: md5, phone: "sip:1@h"}', "not a scrypt hash"),
        ('{extension: "1", password_hash: "scrypt$1", phone: p, skills: {a: 9}}', "levels 1-5"),
        ('{extension: "1", password_hash: "scrypt$1", phone: p, language: fr}', "language is one of zh, en"),
        (
            '{extension: "1", password_hash: "scrypt$1", phone: p, roles: [admin]}',
            "roles is a list of supervisor",
        ),
    ],
)
def test_the_agents_file_refuses_bad_entries(tmp_path: Path, entry: str, problem: str) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text(f"agents:\n  - {entry}\n")
    with pytest.raises(AccountsError, match=problem):
        load_agents_file(path)


def test_the_agents_file_carries_the_desktops_settings(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    entry = '{extension: "1", password_hash: "scrypt$1", phone: p, language: en}'
    path.write_text(
        f"agents:\n  - {entry}\n"
        "desktop:\n  frame_ancestors: [https://crm.example.com]\n  not_ready_reasons: [break, lunch]\n"
        "  session_hours: 9\n  max_failures: 3\n"
    )
    agents = load_agents_file(path)
    settings = agents.settings
    assert settings.frame_ancestors == ("https://crm.example.com",) and settings.not_ready_reasons == (
        "break",
        "lunch",
    )
    assert settings.session_seconds == 9 * 3600 and settings.max_failures == 3 and settings.language == "zh"
    assert "frame-ancestors https://crm.example.com" in settings.content_security_policy()
    account = agents.get("1")
    assert account is not None and account.language == "en"


@pytest.mark.parametrize(
    ("desktop", "problem"),
    [
        ("frame_ancestors: ['https://x.com; script-src *']", "list of origins"),
        ("not_ready_reasons: [Lunch Break]", "lowercase words"),
        ("session_hours: -1", "positive number"),
        ("colour: blue", "unknown desktop setting"),
        ("language: fr", "one of zh, en"),
        ("order_form: {quote: get_quote}", "order_form names the operations"),
        ("order_form: {quote: q, check: c, place: p, readback: r}", "order_form names the operations"),
    ],
)
def test_bad_desktop_settings_name_themselves(tmp_path: Path, desktop: str, problem: str) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text(f"agents: []\ndesktop:\n  {desktop}\n")
    with pytest.raises(AccountsError, match=problem):
        load_agents_file(path)


async def test_the_sqlite_store_keeps_accounts_across_opens(tmp_path: Path) -> None:
    path = tmp_path / "agents.sqlite3"
    store = await SqliteAgentStore.open(path)
    assert store.get("8003") is None
    await store.put(AgentAccount("8003", "Carol", hash_password("pw"), "sip:8003@h", {"general": 4}))
    again = await SqliteAgentStore.open(path)
    account = authenticate(again, "8003", "pw")
    assert account is not None and account.skills == {"general": 4}


async def test_tokens_expire_and_can_be_revoked(autojump_clock: trio.testing.MockClock) -> None:
    tokens = TokenBook(ttl=60)
    token = await tokens.issue("8001")
    assert await tokens.extension(token) == "8001" and await tokens.extension(token + "x") is None
    await trio.sleep(61)
    assert await tokens.extension(token) is None
    other = await tokens.issue("8002")
    assert await tokens.expires(other) == trio.current_time() + 60
    await tokens.revoke(other)
    assert await tokens.extension(other) is None and await tokens.expires(other) is None


@pytest.mark.parametrize(
    "name", ["pin", "PIN", "card_pin", "cardPin", "password", "newPassword", "otp", "cvv"]
)
def test_secret_names_are_recognised(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["shipping", "spinner", "opinion", "customer", "pinyin_name"])
def test_ordinary_names_are_kept(name: str) -> None:
    assert not is_secret_name(name)


def test_safe_screen_drops_secrets_at_any_depth() -> None:
    screen = {"customer": {"name": "Li", "pin": "1"}, "orders": [{"id": 1, "password": "x"}], "pinCode": "9"}
    assert safe_screen(screen) == {"customer": {"name": "Li"}, "orders": [{"id": 1}]}


def test_the_order_form_must_name_the_services_operations_and_agent_flow() -> None:
    from ivr.adapters.cti.orders import check_order_form
    from ivr.adapters.cti.settings import OrderForm
    from ivr.adapters.errors import ConfigError
    from ivr.flowlang.project import load_project

    project, _ = load_project([Path(__file__).parents[2] / "flows"])
    check_order_form(
        OrderForm("get_quote", "check_order", "place_order", "order_readback"), project, "a.yaml"
    )
    with pytest.raises(ConfigError, match="names operation 'get_qoute', which the service lacks"):
        check_order_form(OrderForm("get_qoute", "check_order", "place_order"), project, "a.yaml")
    with pytest.raises(ConfigError, match="'cancel_order' must take account, market, side"):
        check_order_form(OrderForm("get_quote", "cancel_order", "place_order"), project, "a.yaml")
    with pytest.raises(ConfigError, match="readback_flow 'orders' is not one of the service's agent_flows"):
        check_order_form(OrderForm("get_quote", "check_order", "place_order", "orders"), project, "a.yaml")
