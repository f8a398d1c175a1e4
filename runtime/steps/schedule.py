"""`schedule`: open, closed or holiday by a service calendar, at the wall clock's time.

A holiday without a `holiday` edge takes `closed`.
"""

from __future__ import annotations

from ivr.flowlang.ir import Schedule
from ivr.runtime import calendars
from ivr.runtime.context import CallContext, Frame
from ivr.runtime.outcomes import StepResult, need


async def run(node: Schedule, call: CallContext, frame: Frame) -> StepResult:
    service = call.project.service
    decl = service.calendars.get(node.calendar) if service else None
    if decl is None:
        raise LookupError(f"calendar '{node.calendar}' is not declared in the service")
    status = calendars.status(decl, call.now())
    await call.event("schedule", node, calendar=node.calendar, status=status)
    if status == calendars.OPEN:
        return need(node.open, node, "open")
    if status == calendars.HOLIDAY and node.holiday is not None:
        return node.holiday
    return need(node.closed, node, "closed")
