"""The bank's card service: a small HTTP back office the hotline's operations call.

Not part of ivr: the bank's own program, run beside the server (`make run` starts it, the
tests start it on a free port):

    bank-card-service --port 8710 --db var/bank-cards.sqlite3 [--api-key demo-key]

    POST /v1/cards/verify            {"card", "pin"} -> {"ok", "locked", "attempts_left"}
    GET  /v1/cards/{card}/balance    -> {"found", "status", "currency", "available", "holder", "holder_en"}
    POST /v1/cards/{card}/loss       {"id_last6", "caller"} -> {"ok", "report_no", "reason", ...}

Every request carries `X-Api-Key`. Three wrong PINs lock a card. A loss report freezes the
card and is committed (SQLite, synchronous=FULL) before the answer is sent. Demo cards (PINs
public): 6222020200000001 (PIN 123456, ID ends 120015), 6222020200000002 (PIN 654321, ID
ends 350012), 6222020200000003 (already reported lost).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

MAX_ATTEMPTS = 3
SCHEMA = """
CREATE TABLE IF NOT EXISTS cards (
    card TEXT PRIMARY KEY, holder TEXT NOT NULL, holder_en TEXT NOT NULL, id_last6 TEXT NOT NULL,
    pin_sha256 TEXT NOT NULL, available TEXT NOT NULL, currency TEXT NOT NULL DEFAULT 'CNY',
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'lost')),
    failures INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS loss_reports (
    report_no INTEGER PRIMARY KEY AUTOINCREMENT, card TEXT NOT NULL, caller TEXT NOT NULL,
    created_at TEXT NOT NULL);
"""
DEMO = [
    ("6222020200000001", "王芳", "Wang Fang", "120015", "123456", "8888.88", "active"),
    ("6222020200000002", "李强", "Li Qiang", "350012", "654321", "152000.50", "active"),
    ("6222020200000003", "赵敏", "Zhao Min", "440031", "111111", "20.00", "lost"),
]
REASONS = {
    "unknown_card": ("没有找到这张银行卡", "we cannot find this card"),
    "id_mismatch": ("证件号码与卡片登记的不符", "the ID number does not match the card's"),
    "already_lost": ("这张卡已经挂失", "this card is already reported lost"),
}


def _pin_hash(card: str, pin: str) -> str:
    return hashlib.sha256(f"{card}:{pin}".encode()).hexdigest()


class CardBook:
    """The cards and their loss reports in one SQLite file (a connection per request)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()  # one writer at a time: PIN counters and reports
        with self._connect() as conn:
            conn.executescript(SCHEMA)
            for card, holder, holder_en, id_last6, pin, available, status in DEMO:
                conn.execute(
                    "INSERT OR IGNORE INTO cards (card, holder, holder_en, id_last6, pin_sha256, available,"
                    " status) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (card, holder, holder_en, id_last6, _pin_hash(card, pin), available, status),
                )

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            yield conn
        finally:
            conn.close()

    def verify(self, card: str, pin: str) -> dict[str, object]:
        with self._lock, self._connect() as conn:
            row = conn.execute("SELECT pin_sha256, failures FROM cards WHERE card = ?", (card,)).fetchone()
            if row is None:
                return {"ok": False, "locked": False, "attempts_left": 0}
            stored, failures = row
            if failures >= MAX_ATTEMPTS:
                return {"ok": False, "locked": True, "attempts_left": 0}
            if hmac.compare_digest(stored, _pin_hash(card, pin)):
                conn.execute("UPDATE cards SET failures = 0 WHERE card = ?", (card,))
                return {"ok": True, "locked": False, "attempts_left": MAX_ATTEMPTS}
            conn.execute("UPDATE cards SET failures = failures + 1 WHERE card = ?", (card,))
            left = MAX_ATTEMPTS - failures - 1
            return {"ok": False, "locked": left == 0, "attempts_left": left}

    def balance(self, card: str) -> dict[str, object]:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT status, currency, available, holder, holder_en FROM cards WHERE card = ?", (card,)
            ).fetchone()
        if row is None:
            return {
                "found": False,
                "status": "",
                "currency": "",
                "available": "0",
                "holder": "",
                "holder_en": "",
            }
        status, currency, available, holder, holder_en = row
        return {
            "found": True,
            "status": status,
            "currency": currency,
            "available": Decimal(available),
            "holder": holder,
            "holder_en": holder_en,
        }

    def report_loss(self, card: str, id_last6: str, caller: str) -> dict[str, object]:
        with self._lock, self._connect() as conn:
            row = conn.execute("SELECT id_last6, status FROM cards WHERE card = ?", (card,)).fetchone()
            reason = (
                "unknown_card"
                if row is None
                else "id_mismatch"
                if not hmac.compare_digest(row[0], id_last6)
                else "already_lost"
                if row[1] == "lost"
                else ""
            )
            if reason:
                zh, en = REASONS[reason]
                return {"ok": False, "report_no": "", "reason": reason, "reason_zh": zh, "reason_en": en}
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("UPDATE cards SET status = 'lost' WHERE card = ?", (card,))
            cursor = conn.execute(
                "INSERT INTO loss_reports (card, caller, created_at) VALUES (?, ?, ?)",
                (card, caller, datetime.now(UTC).isoformat(timespec="seconds")),
            )
            conn.execute("COMMIT")
            number = f"GS{cursor.lastrowid:08d}"
        return {"ok": True, "report_no": number, "reason": "", "reason_zh": "", "reason_en": ""}


_BALANCE = re.compile(r"^/v1/cards/(\d{12,19})/balance$")
_LOSS = re.compile(r"^/v1/cards/(\d{12,19})/loss$")


def handler_for(book: CardBook, api_key: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "bank-card-service/1.0"

        def do_GET(self) -> None:
            if not self._allowed():
                return
            match = _BALANCE.match(self.path)
            if match is None:
                self._send(404, {"error": "no such resource"})
                return
            self._send(200, book.balance(match.group(1)))

        def do_POST(self) -> None:
            if not self._allowed():
                return
            body = self._body()
            if body is None:
                self._send(400, {"error": "send a JSON object"})
                return
            if self.path == "/v1/cards/verify":
                self._send(200, book.verify(str(body.get("card", "")), str(body.get("pin", ""))))
            elif match := _LOSS.match(self.path):
                id_last6 = str(body.get("id_last6", "")).replace("*", "X")  # a keypad has no X
                self._send(200, book.report_loss(match.group(1), id_last6, str(body.get("caller", ""))))
            else:
                self._send(404, {"error": "no such resource"})

        def _allowed(self) -> bool:
            if hmac.compare_digest(self.headers.get("X-Api-Key", ""), api_key):
                return True
            self._send(401, {"error": "wrong or missing X-Api-Key"})
            return False

        def _body(self) -> dict[str, Any] | None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > 4096:
                return None
            try:
                data = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                return None
            return data if isinstance(data, dict) else None

        def _send(self, status: int, body: dict[str, object]) -> None:
            data = json.dumps(body, ensure_ascii=False, default=str).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # never log card numbers
            return

    return Handler


def make_server(port: int, db: Path, api_key: str, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    db.parent.mkdir(parents=True, exist_ok=True)
    return ThreadingHTTPServer((host, port), handler_for(CardBook(db), api_key))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bank-card-service", description="The bank's demo card service.")
    parser.add_argument("--port", type=int, default=8710, help="0 picks a free port (printed)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--db", type=Path, default=Path("var/bank-cards.sqlite3"))
    parser.add_argument("--api-key", default="demo-key")
    args = parser.parse_args(argv)
    server = make_server(args.port, args.db, args.api_key, args.host)
    print(f"bank-card-service on http://{args.host}:{server.server_address[1]} ({args.db})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
