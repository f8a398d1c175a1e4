"""The customer's history (the CRM view): calls with the path they took, orders and bank
transfers made by phone, complaint tickets, messages sent and outbound attempts.

Place: the outer ring, read-side only, under the agent desktop (the CTI's `history`
command: the screen pop's summary and the customer page). Nothing here writes a record.

- `model`   the rows, their JSON and the screen pop's summary (pure);
- `sqlite`  the reader: one tenant's stores, index-only, newest first, bounded pages;
- `postgres` its calls, messages and attempts sections on the shared database (a URL set).
"""

from ivr.adapters.history.model import SECTIONS, Customer, History, Page, Section
from ivr.adapters.history.postgres import HistoryDatabase
from ivr.adapters.history.sqlite import HistoryReader, HistorySources, Who, ensure_indexes, tenant_sources

__all__ = [
    "SECTIONS",
    "Customer",
    "History",
    "HistoryDatabase",
    "HistoryReader",
    "HistorySources",
    "Page",
    "Section",
    "Who",
    "ensure_indexes",
    "tenant_sources",
]
