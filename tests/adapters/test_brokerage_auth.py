"""The demo back office's PIN handling: slow salted hashes, locks that survive restarts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ivr.adapters.brokerage import operations as op
from ivr.adapters.brokerage.db import ENV_VAR, MIGRATIONS, connect
from ivr.adapters.brokerage.pins import ITERATIONS, hash_pin, verify_pin
from ivr.adapters.brokerage.seed import CUSTOMERS
from ivr.adapters.brokerage.testing import fresh_database


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = fresh_database(tmp_path / "brokerage.sqlite3")
    monkeypatch.setenv(ENV_VAR, str(path))
    return path


def test_pin_hash_is_salted_slow_and_verifies() -> None:
    first, second = hash_pin("135790"), hash_pin("135790")
    assert first != second  # per-row salt
    assert first.startswith(f"pbkdf2_sha256${ITERATIONS}$") and ITERATIONS >= 200_000
    assert verify_pin("135790", first)
    assert not verify_pin("135791", first)
    assert not verify_pin("135790", None)


def test_no_plain_pin_is_stored_anywhere_in_the_database_files(db: Path) -> None:
    op.verify_trading_pin(account="31000001", pin="135790", caller="13800138000")
    op.verify_fund_pin(account="31000002", pin="999999", caller="")
    content = b"".join(p.read_bytes() for p in db.parent.iterdir() if p.name.startswith(db.name))
    pins = [pin for c in CUSTOMERS for a in c.accounts for pin in (a.trading_pin, a.fund_pin)]
    for pin in [*pins, "999999"]:
        assert pin.encode() not in content
        assert pin.encode("utf-16-le") not in content


def test_identify_caller_recognises_a_vip_with_two_accounts(db: Path) -> None:
    answer = op.identify_caller(caller="13700137000")
    assert answer["found"] and answer["vip"] and answer["account"] == "31000003"
    assert answer["account_count"] == 2
    assert not op.identify_caller(caller="10086")["found"]


def test_right_pin_passes_and_wrong_pin_counts_down(db: Path) -> None:
    assert op.verify_trading_pin(account="31000001", pin="135790", caller="13800138000") == {
        "ok": True, "locked": False, "attempts_left": 3,
    }  # fmt: skip
    answer = op.verify_trading_pin(account="31000001", pin="000000", caller="13800138000")
    assert answer == {"ok": False, "locked": False, "attempts_left": 2}
    # a success resets the count
    assert op.verify_trading_pin(account="31000001", pin="135790", caller="13800138000")["ok"]
    assert op.verify_trading_pin(account="31000001", pin="000000", caller="")["attempts_left"] == 2


def test_three_failures_lock_the_account_and_the_lock_survives_reopening(db: Path) -> None:
    for left in (2, 1):
        assert op.verify_trading_pin(account="31000002", pin="111111", caller="")["attempts_left"] == left
    assert op.verify_trading_pin(account="31000002", pin="111111", caller="") == {
        "ok": False, "locked": True, "attempts_left": 0,
    }  # fmt: skip
    # a fresh connection (as after a restart) still sees the lock, even with the right PIN
    with connect(db) as conn:
        assert conn.execute("SELECT trading_locked FROM accounts WHERE account_no = '31000002'").fetchone()[0]
    assert op.verify_trading_pin(account="31000002", pin="314159", caller="")["locked"]
    # the fund PIN is a separate lock
    assert op.verify_fund_pin(account="31000002", pin="271828", caller="")["ok"]


def test_three_failures_from_one_caller_lock_that_number(db: Path) -> None:
    for account in ("31000001", "31000003", "99999999"):
        op.verify_trading_pin(account=account, pin="121212", caller="13912345678")
    assert op.identify_caller(caller="13912345678")["caller_locked"]
    assert op.verify_trading_pin(account="31000004", pin="470381", caller="13912345678")["locked"]
    assert op.verify_trading_pin(account="31000004", pin="470381", caller="13800000000")["ok"]


def test_seeded_locked_account_is_locked(db: Path) -> None:
    assert op.verify_trading_pin(account="31000005", pin="808264", caller="")["locked"]


def test_unknown_account_is_just_a_failure(db: Path) -> None:
    answer = op.verify_trading_pin(account="12345678", pin="123456", caller="13811112222")
    assert answer == {"ok": False, "locked": False, "attempts_left": 2}


def test_database_is_created_on_first_use_at_the_env_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "sub" / "fresh.sqlite3"
    monkeypatch.setenv(ENV_VAR, str(path))
    assert op.get_quote(code="600519")["name"] == "贵州茅台"
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    conn.close()
