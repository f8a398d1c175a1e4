"""Complaint tickets as the supervisor pages see them: list, re-route, close with a note.

Place: between the supervisor app and the tenant's module. The tickets belong to the
tenant's back office (the brokerage's `complaint_tickets`, `ivr.adapters.brokerage.desk`),
so hosting reaches them only through the module's operations `complaint_tickets`,
`complaint_departments`, `reroute_complaint` and `close_complaint`; a tenant whose module
has none of them has no tickets page. Each change is durable in the back office before the
answer, and the app journals who did it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import trio

from ivr.adapters.errors import AdapterError
from ivr.runtime.modules import ModuleContext, Operation

OPERATIONS = ("complaint_tickets", "complaint_departments", "reroute_complaint", "close_complaint")


class TicketError(AdapterError):
    """The desk refused a change (no such ticket, already closed, an unknown department)."""


class ModuleTickets:
    """The tickets desk over a tenant module's operations (`tickets_of` makes one)."""

    def __init__(self, operations: Mapping[str, Operation], context: ModuleContext) -> None:
        self.operations = operations
        self.context = context

    async def _call(self, name: str, **args: object) -> dict[str, Any]:
        call = functools.partial(self.operations[name], self.context, **args)
        try:
            result = await trio.to_thread.run_sync(call)
        except Exception as exc:  # the module's refusal: its message is for the supervisor
            raise TicketError(str(exc)) from exc
        return dict(result) if isinstance(result, Mapping) else {}

    async def tickets(self, status: str = "") -> list[dict[str, Any]]:
        return list((await self._call("complaint_tickets", status=status))["tickets"])

    async def departments(self) -> list[dict[str, Any]]:
        return list((await self._call("complaint_departments"))["departments"])

    async def reroute(self, ticket_no: str, department: str, by: str) -> dict[str, Any]:
        return await self._call("reroute_complaint", ticket_no=ticket_no, department=department, by=by)

    async def close(self, ticket_no: str, note: str, by: str, call_back: bool = False) -> dict[str, Any]:
        """Close with a note; `call_back` asks the module to call the customer back with it
        (only asked when wanted, so a module without call backs still closes tickets)."""
        extra = {"call_back": True} if call_back else {}
        return await self._call("close_complaint", ticket_no=ticket_no, note=note, by=by, **extra)


def tickets_of(operations: Mapping[str, Operation], context: ModuleContext) -> ModuleTickets | None:
    """The desk when the module offers every ticket operation, else None."""
    if all(name in operations for name in OPERATIONS):
        return ModuleTickets(operations, context)
    return None
