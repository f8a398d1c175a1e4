"""The service desk: complaint tickets, routed to the department that owns the topic.

A supervisor closes a ticket with a note (the supervisor pages); closing it with
`call_back` also writes a row to `complaint_callbacks` in the same transaction, which the
`complaint_callbacks` campaign of flows/service.yaml follows: the customer is called on the
number the complaint came from and hears the outcome (docs/reports.md, "Complaint tickets").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ivr.adapters.brokerage.db import BrokerageError, connect, next_number, timestamp, transaction

# topic -> (department, Mandarin name, English name)
DEPARTMENTS: dict[str, tuple[str, str, str]] = {
    "trading": ("operations", "交易运营部", "Trading Operations"),
    "fees": ("finance", "财务部", "Finance"),
    "service": ("customer_service", "客户服务部", "Customer Service"),
    "system": ("it", "信息技术部", "IT"),
}
DEFAULT_DEPARTMENT = ("compliance", "合规部", "Compliance")


def file_complaint(
    caller: str, account: str = "", recording_id: str = "", topic: str = "", now: datetime | None = None
) -> dict[str, Any]:
    """Open a ticket for a recorded complaint; durable before it returns.
    `{ticket_no, department, department_zh, department_en}`."""
    department, zh, en = DEPARTMENTS.get(str(topic), DEFAULT_DEPARTMENT)
    with connect() as conn, transaction(conn):
        number = next_number(conn, "complaint", 90000001)
        conn.execute(
            "INSERT INTO complaint_tickets(ticket_no, caller, account_no, recording_id, topic, department,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (number, str(caller) or None, str(account) or None, str(recording_id), str(topic) or "other",
             department, timestamp(now)),
        )  # fmt: skip
    return {"ticket_no": number, "department": department, "department_zh": zh, "department_en": en}


# What happened to each ticket after it was filed (re-routes, closing notes); `IF NOT EXISTS`
# because databases from before migration 4 may already have the log.
_LOG_TABLE = """CREATE TABLE IF NOT EXISTS complaint_ticket_log (
    id INTEGER PRIMARY KEY, ticket_no TEXT NOT NULL, at TEXT NOT NULL, action TEXT NOT NULL,
    by TEXT NOT NULL, department TEXT NOT NULL, note TEXT NOT NULL DEFAULT '')"""
_CALLBACK_TABLE = """CREATE TABLE IF NOT EXISTS complaint_callbacks (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, ticket_no TEXT NOT NULL, phone TEXT NOT NULL,
    topic_zh TEXT NOT NULL, topic_en TEXT NOT NULL, note TEXT NOT NULL, sms_text TEXT NOT NULL,
    created_at TEXT NOT NULL)"""
MAX_TICKETS = 500
MAX_NOTE = 2000
MAX_SPOKEN_NOTE = 300  # what the call reads out of the note; the whole note goes by SMS
TOPIC_NAMES = {"trading": ("交易", "trading"), "fees": ("费用", "fees"), "service": ("服务", "service")}


def migrate(conn: Any) -> None:
    """The desk's tables (brokerage migration 4)."""
    conn.execute(_LOG_TABLE)
    conn.execute(_CALLBACK_TABLE)


def complaint_departments() -> dict[str, Any]:
    """The departments a ticket can be routed to: `{departments: [{id, zh, en}]}`."""
    known = {dept: (zh, en) for dept, zh, en in [*DEPARTMENTS.values(), DEFAULT_DEPARTMENT]}
    return {"departments": [{"id": d, "zh": zh, "en": en} for d, (zh, en) in known.items()]}


def complaint_tickets(status: str = "", limit: int = 200) -> dict[str, Any]:
    """The newest tickets (`status` open or closed, or all), each with its last note:
    `{tickets: [{ticket_no, caller, account_no, recording_id, topic, department, status,
    created_at, note, updated_at, updated_by}]}`."""
    with connect() as conn:
        where, params = ("t.status = ?", [str(status)]) if status else ("1 = 1", [])
        rows = _tickets(conn, where, params, max(1, min(int(limit), MAX_TICKETS)))
    return {"tickets": [_ticket(row) for row in rows]}


def reroute_complaint(
    ticket_no: str, department: str, by: str, now: datetime | None = None
) -> dict[str, Any]:
    """Send an open ticket to another department; durable before it returns."""
    if department not in {d["id"] for d in complaint_departments()["departments"]}:
        raise BrokerageError(f"unknown department {department!r}")
    return _change(ticket_no, "rerouted", by, department, "", now)


def close_complaint(
    ticket_no: str, note: str, by: str, call_back: bool = False, now: datetime | None = None
) -> dict[str, Any]:
    """Close an open ticket with a note (what was done); with `call_back`, the customer is
    called back with it (a `complaint_callbacks` row). Durable before it returns."""
    note = str(note).strip()
    if not note or len(note) > MAX_NOTE:
        raise BrokerageError(f"closing a ticket needs a note of 1 to {MAX_NOTE} characters")
    return _change(ticket_no, "closed", by, None, note, now, call_back=bool(call_back))


def _change(
    ticket_no: str,
    action: str,
    by: str,
    department: str | None,
    note: str,
    now: datetime | None,
    *,
    call_back: bool = False,
) -> dict[str, Any]:
    with connect() as conn:
        with transaction(conn):
            row = conn.execute(
                "SELECT * FROM complaint_tickets WHERE ticket_no = ?", (str(ticket_no),)
            ).fetchone()
            if row is None:
                raise BrokerageError(f"no ticket {ticket_no!r}")
            if row["status"] != "open":
                raise BrokerageError(f"ticket {ticket_no} is {row['status']}")
            target = department or row["department"]
            status = "closed" if action == "closed" else "open"
            conn.execute(
                "UPDATE complaint_tickets SET department = ?, status = ? WHERE ticket_no = ?",
                (target, status, str(ticket_no)),
            )
            conn.execute(
                "INSERT INTO complaint_ticket_log(ticket_no, at, action, by, department, note)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (str(ticket_no), timestamp(now), action, str(by), target, note),
            )
            if call_back:
                _queue_callback(conn, row, note, now)
        [row] = _tickets(conn, "t.ticket_no = ?", [str(ticket_no)], 1)
        ticket = _ticket(row)
        ticket["call_back"] = call_back
    return ticket


def _queue_callback(conn: Any, ticket: Any, note: str, now: datetime | None) -> None:
    """The row the `complaint_callbacks` campaign turns into a call (inside the close's
    transaction: a ticket closed with a call back is called back, once)."""
    phone = str(ticket["caller"] or "")
    if not (phone.isdigit() and 5 <= len(phone) <= 20):
        raise BrokerageError(f"ticket {ticket['ticket_no']} has no caller number to call back")
    zh, en = TOPIC_NAMES.get(str(ticket["topic"]), ("服务", "service"))
    spoken = note if len(note) <= MAX_SPOKEN_NOTE else note[: MAX_SPOKEN_NOTE - 1] + "…"
    sms = f"【95500证券】您的投诉工单{ticket['ticket_no']}已处理完毕：{note}"[:500]
    conn.execute(
        "INSERT INTO complaint_callbacks(key, ticket_no, phone, topic_zh, topic_en, note, sms_text,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (f"ticket{ticket['ticket_no']}", ticket["ticket_no"], phone, zh, en, spoken, sms, timestamp(now)),
    )


def _tickets(conn: Any, where: str, params: list[str], limit: int) -> list[Any]:
    """Tickets with their latest log line (the closing note, who changed it last)."""
    return list(
        conn.execute(
            "SELECT t.*, l.note AS note, l.at AS updated_at, l.by AS updated_by FROM complaint_tickets t"
            " LEFT JOIN complaint_ticket_log l ON l.id = (SELECT max(id) FROM complaint_ticket_log"
            f" WHERE ticket_no = t.ticket_no) WHERE {where}"
            " ORDER BY t.created_at DESC, t.ticket_no DESC LIMIT ?",
            (*params, limit),
        ).fetchall()
    )


def _ticket(row: Any) -> dict[str, Any]:
    keys = (
        "ticket_no",
        "caller",
        "account_no",
        "recording_id",
        "topic",
        "department",
        "status",
        "created_at",
    )
    ticket = {key: row[key] for key in keys}
    ticket.update(note=row["note"] or "", updated_at=row["updated_at"], updated_by=row["updated_by"])
    return ticket
