"""The service desk: complaint tickets, routed to the department that owns the topic."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ivr.adapters.brokerage.db import connect, next_number, timestamp, transaction

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
