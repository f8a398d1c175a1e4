"""The service desk: complaint tickets, routed to the department that owns the topic."""

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


# What happened to each ticket after it was filed (re-routes, closing notes). Created where it
# is missing rather than by a numbered migration: it is the desk's own log, beside the tickets.
_LOG_TABLE = """CREATE TABLE IF NOT EXISTS complaint_ticket_log (
    id INTEGER PRIMARY KEY, ticket_no TEXT NOT NULL, at TEXT NOT NULL, action TEXT NOT NULL,
    by TEXT NOT NULL, department TEXT NOT NULL, note TEXT NOT NULL DEFAULT '')"""
MAX_TICKETS = 500
MAX_NOTE = 2000


def complaint_departments() -> dict[str, Any]:
    """The departments a ticket can be routed to: `{departments: [{id, zh, en}]}`."""
    known = {dept: (zh, en) for dept, zh, en in [*DEPARTMENTS.values(), DEFAULT_DEPARTMENT]}
    return {"departments": [{"id": d, "zh": zh, "en": en} for d, (zh, en) in known.items()]}


def complaint_tickets(status: str = "", limit: int = 200) -> dict[str, Any]:
    """The newest tickets (`status` open or closed, or all), each with its last note:
    `{tickets: [{ticket_no, caller, account_no, recording_id, topic, department, status,
    created_at, note, updated_at, updated_by}]}`."""
    with connect() as conn:
        conn.execute(_LOG_TABLE)
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


def close_complaint(ticket_no: str, note: str, by: str, now: datetime | None = None) -> dict[str, Any]:
    """Close an open ticket with a note (what was done); durable before it returns."""
    note = str(note).strip()
    if not note or len(note) > MAX_NOTE:
        raise BrokerageError(f"closing a ticket needs a note of 1 to {MAX_NOTE} characters")
    return _change(ticket_no, "closed", by, None, note, now)


def _change(
    ticket_no: str, action: str, by: str, department: str | None, note: str, now: datetime | None
) -> dict[str, Any]:
    with connect() as conn:
        conn.execute(_LOG_TABLE)
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
        [row] = _tickets(conn, "t.ticket_no = ?", [str(ticket_no)], 1)
    return _ticket(row)


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
