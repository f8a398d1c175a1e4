"""Orders an agent takes for a caller: the `quote`, `check_order` and `place_order` commands.

Place: called by `ivr.adapters.cti.commands` for the call the agent holds; the back office
is the `OrderDesk` (`ivr.adapters.cti.orders`). The steps and the rules that hold:

1. `quote`: the code's name, last price and today's limits, for the form.
2. `check_order` is the read-back step: the back office judges the order with the IVR's own
   rules (nothing is placed) and the desktop gets the words to read to the caller. The
   order is remembered as the call's read-back order.
3. `place_order` places only that read-back order, unchanged, and only
   - for a caller who proved who they are: the screen says `verified` (the IVR's login)
     or a flow the agent sent them into returned `verified: true` (the PIN check); the
     account is the one that flow checked (`verified_account`), else the screen's;
   - once the read-back was confirmed: by the agent (`readback: agent`, the caller said
     yes on the line), or by the caller's key in the read-back flow (`readback: ivr`: that
     flow's last run on this call read this very order and came back `confirmed`).
   The desktop's `key` makes it idempotent. The order number goes on the caller's record
   (`agent_order`, with the id of the conversation's recording) before the agent is told,
   and into the recording's metadata (`orders`), so an order leads to its recording.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

import trio

from ivr.adapters.cti.calls import HeldCall, NotConnected, ReadBackOrder
from ivr.adapters.cti.orders import BackOfficeError, Draft, OrderDesk, Quote, read_back
from ivr.adapters.cti.protocol import CheckOrder, PlaceOrder, ProtocolError, QuoteCode
from ivr.runtime.ports import CallEvent

if TYPE_CHECKING:
    from ivr.adapters.cti.server import CtiServer

log = logging.getLogger(__name__)
Result = dict[str, object]


async def quote(server: CtiServer, call: HeldCall, command: QuoteCode) -> Result:
    found = await _quote(_desk(server), command.code)
    return {"quote": found.json()}


async def check_order(server: CtiServer, extension: str, call: HeldCall, command: CheckOrder) -> Result:
    desk, draft = _desk(server), command.draft
    account = caller_account(call)
    found = await _quote(desk, draft.code)
    try:
        verdict = await desk.check(account, found.market, draft)
    except BackOfficeError as exc:
        raise ProtocolError("back_office", str(exc)) from exc
    call.read_back = ReadBackOrder(account, found.market, draft, found.name) if verdict.ok else None
    return {
        "order": {**draft.json(), "market": found.market, "account": account, "name": found.name},
        "quote": found.json(),
        "verdict": verdict.json(),
        "readback": read_back(account, draft, found) if verdict.ok else None,
        "verified": is_verified(call),
    }


async def place_order(server: CtiServer, extension: str, call: HeldCall, command: PlaceOrder) -> Result:
    desk = _desk(server)
    checked = _read_back(call, command.draft)
    if not is_verified(call):
        raise ProtocolError(
            "not_verified", "the caller has not proven who they are: send them into the PIN check first"
        )
    if command.readback == "ivr":
        _confirmed_by_keys(server, call, checked)
    key = f"{call.call_id}-desk-{command.key}"
    try:
        verdict = await desk.place(checked.account, checked.market, checked.draft, key)
    except BackOfficeError as exc:
        raise ProtocolError(
            "outcome_unknown",
            f"{exc}. The order may or may not be placed: place it again with the same form, which "
            "never places it twice, or look it up before entering it again",
        ) from exc
    recording = None
    if verdict.order_no is not None and verdict.ok:
        call.orders.append(verdict.order_no)
        call.read_back = None
        recording = _label_recording(server, call, verdict.order_no)
    recorded = await _record(server, extension, call, checked, verdict.json(), command, recording)
    return {"verdict": verdict.json(), "recording": recording, "recorded": recorded}


# -- the rules ---------------------------------------------------------------------------
def caller_account(call: HeldCall) -> str:
    """The account orders are for: the one a PIN check verified, else the screen's."""
    facts = call.facts
    account = facts.get("verified_account") or facts.get("account")
    if not isinstance(account, str | int) or isinstance(account, bool) or not str(account).strip():
        raise ProtocolError(
            "no_account", "the call has no account: send the caller into the PIN check, which asks for it"
        )
    return str(account).strip()


def is_verified(call: HeldCall) -> bool:
    return call.facts.get("verified") is True


def _read_back(call: HeldCall, draft: Draft) -> ReadBackOrder:
    checked = call.read_back
    if checked is None or checked.draft != draft:
        raise ProtocolError("not_read_back", "check the order and read it back to the caller first")
    return checked


def _confirmed_by_keys(server: CtiServer, call: HeldCall, checked: ReadBackOrder) -> None:
    """The read-back flow's last run on this call read this order and came back confirmed."""
    form = server.settings.order_form
    flow = form.readback_flow if form is not None else None
    last = next((r for r in reversed(call.results) if r.flow == flow), None)
    heard = call.flow_inputs.get(flow or "", {})
    same = _same_order(heard, checked.draft)
    if flow is None or last is None or last.outcome != "confirmed" or not same:
        raise ProtocolError(
            "not_confirmed",
            "the caller has not confirmed this order by key: send them into the read-back, or read it "
            "back yourself",
        )


def _same_order(heard: Mapping[str, object], draft: Draft) -> bool:
    try:
        return (
            heard.get("side") == draft.side
            and str(heard.get("code")) == draft.code
            and Decimal(str(heard.get("qty"))) == draft.qty
            and Decimal(str(heard.get("price"))) == draft.price
        )
    except ArithmeticError:
        return False


# -- helpers -----------------------------------------------------------------------------
def _desk(server: CtiServer) -> OrderDesk:
    if server.orders is None:
        raise ProtocolError("no_order_form", "this desk takes no orders (no `order_form` in the agents file)")
    return server.orders


async def _quote(desk: OrderDesk, code: str) -> Quote:
    try:
        found = await desk.quote(code)
    except BackOfficeError as exc:
        raise ProtocolError("back_office", str(exc)) from exc
    if found is None:
        raise ProtocolError("unknown_code", f"there is no security with the code {code}")
    return found


def _label_recording(server: CtiServer, call: HeldCall, order_no: str) -> str | None:
    try:
        return server.control.label_recording(call.call_id, "orders", order_no)
    except NotConnected:
        return None  # the conversation ended meanwhile: the record still names the order


async def _record(
    server: CtiServer,
    extension: str,
    call: HeldCall,
    checked: ReadBackOrder,
    verdict: Mapping[str, object],
    command: PlaceOrder,
    recording: str | None,
) -> bool:
    """The order on the caller's record, durable before the agent is told (False: it was
    placed, but the line could not be written)."""
    detail = {
        "agent": extension, "account": checked.account, "market": checked.market, **checked.draft.json(),
        "name": checked.name, "readback": command.readback, "recording": recording, **verdict,
    }  # fmt: skip
    event = CallEvent(call.call_id, "agent_order", server.clock.now(), None, detail)
    try:
        with trio.fail_after(10):
            await server.records.call_event(event)
    except Exception:
        log.exception("call %s: order %s is placed but not on the call record", call.call_id, verdict)
        return False
    return True
