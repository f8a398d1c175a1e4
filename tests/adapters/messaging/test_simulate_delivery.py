"""`ivr simulate --deliver`: a statement asked for in the simulator arrives at an SMTP
server as an e-mail whose PDF holds the account's transactions from the back office; an
SMS for a gateway that is down waits in the outbox, which `ivr messages` shows."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from gateways import SmtpSink, pdf_text

from ivr.adapters.brokerage import operations as op
from ivr.adapters.brokerage.db import ENV_VAR
from ivr.adapters.brokerage.testing import fresh_database

ROOT = Path(__file__).parents[3]
IVR = Path(sys.executable).parent / "ivr"
# 李娜 calls: Mandarin, account, her recognised account, PIN, statement by e-mail, then by SMS
KEYS = "1\n2\n1\n314159#\n4\n1\n4\n3\n9\n"


def simulate(tmp_path: Path, smtp_port: int, keys: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "IVR_SMTP_PORT": str(smtp_port), ENV_VAR: str(tmp_path / "brokerage.sqlite3")}
    env["IVR_SMS_URL"] = "http://127.0.0.1:9/sms"  # nothing listens there: the SMS waits
    command = [str(IVR), "simulate", str(ROOT / "flows"), "main", "--caller", "13900139000", "--fast"]
    command += ["--deliver", "--deliver-wait", "3", "--data-dir", str(tmp_path / "var")]
    return subprocess.run(
        command, input=keys, capture_output=True, text=True, env=env, timeout=120, check=False
    )


@pytest.mark.slow
def test_a_statement_asked_for_in_the_simulator_arrives_as_an_email_with_its_transactions(
    tmp_path: Path, smtp: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh_database(tmp_path / "brokerage.sqlite3")
    run = simulate(tmp_path, smtp.port, KEYS)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "-> email_sent\n  (zh) 对账单已发送到您登记的电子邮箱。" in out
    assert "-> sms_queued\n  (zh) 对账单通知短信将发送到您的手机。" in out
    [mail_line] = [line for line in out.splitlines() if line.startswith("delivery ") and "(email)" in line]
    assert mail_line.endswith("(email): sent: 2.0.0 Ok: queued as Q1")
    [sms_line] = [line for line in out.splitlines() if line.startswith("delivery ") and "(sms)" in line]
    assert "(sms): queued: " in sms_line and "no connection" in sms_line

    [received] = smtp.received
    assert received.rcpt_tos == ["li.na@example.com"]
    [(name, pdf)] = received.attachments()
    text = pdf_text(pdf)
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "brokerage.sqlite3"))
    statement_no = name.removeprefix("statement-").removesuffix(".pdf")
    assert f"Statement no. {statement_no}" in text
    moves = op.recent_transactions(account="31000002", n=20)["items"]
    held = op.positions(account="31000002")["items"]
    rows = [(m["date"], m["code"], m["name"], f"{m['amount']:,.2f}") for m in moves]
    assert rows and all(all(value in text for value in row) for row in rows), text
    # the matching simulator moves prices during trading hours, so each position is checked
    # against the last price the statement itself shows
    lines = text.splitlines()
    for p in held:
        [line] = [row for row in lines if row.startswith(f"{p['code']} {p['name']} {p['qty']} ")]
        last, value = line.split()[-2:]
        assert Decimal(value.replace(",", "")) == Decimal(last) * p["qty"], line

    listing = subprocess.run(
        [str(IVR), "messages", "--data-dir", str(tmp_path / "var"), "list"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "  sent      email" in listing and "  queued    sms" in listing
