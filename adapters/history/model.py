"""What the customer's history holds: plain rows, their JSON, and the screen pop's summary.

Place: the pure half of `ivr.adapters.history` (no I/O); `sqlite.py` fills these from the
stores, the CTI's `history` command sends `as_json()` to the desktop. No row carries a
secret: PINs and their hashes are never read, message texts are not either (their `kind`
says what was sent).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Section = Literal["calls", "orders", "transfers", "tickets", "messages", "attempts"]
SECTIONS: tuple[Section, ...] = ("calls", "orders", "transfers", "tickets", "messages", "attempts")
CLOSED_TICKET_STATUSES = ("closed",)  # any other status is still open


@dataclass(frozen=True, slots=True)
class Customer:
    """Who the history is about: a known customer (their accounts and numbers), or only the
    number that called (`known` false)."""

    known: bool
    name: str = ""
    name_en: str = ""
    vip_tier: str = ""
    accounts: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()  # caller numbers and the mobile
    addresses: tuple[str, ...] = ()  # where messages go: numbers, e-mail, fax


@dataclass(frozen=True, slots=True)
class CallLine:
    call_id: str
    started_at: str
    ended_at: str | None
    how: str | None
    flow: str
    caller: str
    path: tuple[str, ...]  # the nodes it visited, in order (`flow.node`)


@dataclass(frozen=True, slots=True)
class OrderLine:
    order_no: str
    account: str
    side: str
    code: str
    qty: int
    price: str
    status: str
    filled_qty: int
    created_at: str
    call_id: str | None  # the call it was placed in (from its idempotency key)
    by: Literal["ivr", "agent", ""]


@dataclass(frozen=True, slots=True)
class TransferLine:
    transfer_no: str
    account: str
    direction: str
    amount: str
    status: str
    created_at: str
    call_id: str | None


@dataclass(frozen=True, slots=True)
class TicketLine:
    ticket_no: str
    account: str | None
    topic: str
    department: str
    status: str
    created_at: str
    recording_id: str


@dataclass(frozen=True, slots=True)
class MessageLine:
    delivery_id: str
    channel: str
    kind: str
    recipient: str
    status: str  # the outbox's delivery state: queued, sending, sent, dead, in_doubt (or a receipt's)
    created_at: str
    sent_at: str | None
    call_id: str | None


@dataclass(frozen=True, slots=True)
class AttemptLine:
    attempt_id: str
    campaign: str
    run_id: str
    number: str
    started_at: str
    outcome: str | None
    disposition: str | None


Line = CallLine | OrderLine | TransferLine | TicketLine | MessageLine | AttemptLine


@dataclass(frozen=True, slots=True)
class Page:
    """The newest `limit` lines of one section older than a cursor; `more` is the cursor of
    the next page (None: nothing older)."""

    lines: tuple[Line, ...]
    more: str | None = None


@dataclass(frozen=True, slots=True)
class History:
    customer: Customer
    sections: dict[Section, Page] = field(default_factory=dict)

    def page(self, section: Section) -> Page:
        return self.sections.get(section, Page(()))

    def as_json(self) -> dict[str, object]:
        return {
            "customer": asdict(self.customer),
            **{
                name: {"lines": [asdict(line) for line in page.lines], "more": page.more}
                for name, page in self.sections.items()
            },
        }

    def summary(self, calls: int = 3, orders: int = 3) -> dict[str, Any]:
        """What the screen pop shows: the last calls with where they went, the last orders,
        the tickets still open."""
        last_calls = [line for line in self.page("calls").lines if isinstance(line, CallLine)][:calls]
        last_orders = [line for line in self.page("orders").lines if isinstance(line, OrderLine)][:orders]
        tickets = [
            line
            for line in self.page("tickets").lines
            if isinstance(line, TicketLine) and line.status not in CLOSED_TICKET_STATUSES
        ]
        return {
            "customer": asdict(self.customer),
            "calls": [asdict(line) for line in last_calls],
            "orders": [asdict(line) for line in last_orders],
            "open_tickets": [asdict(line) for line in tickets],
        }
