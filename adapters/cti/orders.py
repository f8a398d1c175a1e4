"""The desktop's order form and the back office behind it: the `OrderDesk` port.

Place: between the CTI's order commands (`ivr.adapters.cti.ordering`) and whatever back
office takes orders. `OperationsOrderDesk` reaches it through the service's own data
operations (the same `DataOperations` the IVR's `lookup` nodes use), so an agent's order
meets exactly the rules and refusals a caller's order meets in the IVR, and moving the back
office elsewhere means naming other operations in the agents file (`desktop.order_form`),
not changing this code. What each operation must answer:

- quote `(code)`: `found`, `code`, `name`, `name_en`, `market`, `last`, `limit_up`,
  `limit_down`, `suspended`;
- check `(account, market, side, code, qty, price)`: `ok`, `reason`, `reason_zh`,
  `reason_en` (and `amount`, `cost` if it knows them), placing nothing;
- place `(account, market, side, code, qty, price, idempotency_key)`: `ok`, `order_no`,
  `status`, `reason`, `reason_zh`, `reason_en`; the same key always gives the same order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Literal, Protocol

from ivr.adapters.cti.settings import OrderForm
from ivr.adapters.errors import AdapterError, ConfigError
from ivr.flowlang.ir import Project
from ivr.runtime.ports import DataOperations, OperationError, OperationTimeout

Side = Literal["buy", "sell"]


class BackOfficeError(AdapterError):
    """The back office did not answer (down, too slow, an answer of the wrong shape). For a
    `place` the order's fate is unknown: the same key asks again without placing twice."""


@dataclass(frozen=True, slots=True)
class Draft:
    """An order as the agent entered it (the market comes from the quote)."""

    side: Side
    code: str
    qty: int
    price: Decimal

    def json(self) -> dict[str, object]:
        return {"side": self.side, "code": self.code, "qty": self.qty, "price": str(self.price)}


@dataclass(frozen=True, slots=True)
class Quote:
    code: str
    name: str
    name_en: str
    market: str
    last: Decimal
    limit_up: Decimal
    limit_down: Decimal
    suspended: bool

    def json(self) -> dict[str, object]:
        return {
            "code": self.code, "name": self.name, "name_en": self.name_en, "market": self.market,
            "last": str(self.last), "limit_up": str(self.limit_up), "limit_down": str(self.limit_down),
            "suspended": self.suspended,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class Verdict:
    """The back office's answer to a check or a placement: `ok`, else the refusal `reason`
    and its `words` per language; a placement's `order_no` and `status`."""

    ok: bool
    reason: str = ""
    words: Mapping[str, str] = field(default_factory=dict)
    order_no: str | None = None
    status: str | None = None
    amount: Decimal | None = None
    cost: Decimal | None = None

    def json(self) -> dict[str, object]:
        body: dict[str, object] = {"ok": self.ok}
        if not self.ok:
            body["refusal"] = {"reason": self.reason, **self.words}
        for name in ("order_no", "status", "amount", "cost"):
            value = getattr(self, name)
            if value is not None:
                body[name] = str(value) if isinstance(value, Decimal) else value
        return body


class OrderDesk(Protocol):
    """The back office as the order form sees it. Every method raises `BackOfficeError`
    when it gets no usable answer."""

    async def quote(self, code: str) -> Quote | None:
        """The latest quote, or None for an unknown code."""
        ...

    async def check(self, account: str, market: str, draft: Draft) -> Verdict:
        """Whether the order would be taken now (nothing is placed)."""
        ...

    async def place(self, account: str, market: str, draft: Draft, key: str) -> Verdict:
        """Place the order, durably, once per `key`."""
        ...


def check_order_form(form: OrderForm, project: Project, where: str) -> None:
    """`ConfigError` unless the service declares the form's operations (with the parameters
    the form passes) and, when named, the read-back flow as an agent flow."""
    service = project.service
    declared = service.operations if service is not None else {}
    needs = {
        form.quote: ("code",),
        form.check: ("account", "market", "side", "code", "qty", "price"),
        form.place: ("account", "market", "side", "code", "qty", "price", "idempotency_key"),
    }
    for name, params in needs.items():
        operation = declared.get(name)
        if operation is None:
            raise ConfigError(
                f"{where}: desktop.order_form names operation {name!r}, which the service lacks"
            )
        if set(operation.params) != set(params):
            raise ConfigError(
                f"{where}: desktop.order_form's operation {name!r} must take {', '.join(params)}; "
                f"the service declares {', '.join(operation.params) or 'none'}"
            )
    agent_flows = service.agent_flows if service is not None else {}
    if form.readback_flow is not None and form.readback_flow not in agent_flows:
        raise ConfigError(
            f"{where}: desktop.order_form.readback_flow {form.readback_flow!r} is not one of the "
            f"service's agent_flows ({', '.join(agent_flows) or 'none'})"
        )


class OperationsOrderDesk:
    """`OrderDesk` over the service's data operations named in `OrderForm`."""

    def __init__(self, operations: DataOperations, form: OrderForm) -> None:
        self.operations = operations
        self.form = form

    async def quote(self, code: str) -> Quote | None:
        answer = await self._invoke(self.form.quote, {"code": code})
        if not answer.get("found"):
            return None
        try:
            return Quote(
                str(answer["code"]), str(answer.get("name") or ""), str(answer.get("name_en") or ""),
                str(answer["market"]), _money(answer["last"]), _money(answer["limit_up"]),
                _money(answer["limit_down"]), bool(answer.get("suspended")),
            )  # fmt: skip
        except (KeyError, InvalidOperation, TypeError) as exc:
            raise BackOfficeError(f"the quote of {code} came back incomplete: {exc}") from exc

    async def check(self, account: str, market: str, draft: Draft) -> Verdict:
        return _verdict(await self._invoke(self.form.check, _args(account, market, draft)))

    async def place(self, account: str, market: str, draft: Draft, key: str) -> Verdict:
        args = {**_args(account, market, draft), "idempotency_key": key}
        return _verdict(await self._invoke(self.form.place, args))

    async def _invoke(self, operation: str, args: Mapping[str, object]) -> Mapping[str, object]:
        try:
            answer = await self.operations.invoke(operation, args)
        except OperationTimeout as exc:
            raise BackOfficeError(f"{operation} did not answer in time") from exc
        except OperationError as exc:
            raise BackOfficeError(f"{operation} failed: {exc}") from exc
        if not isinstance(answer, Mapping):
            raise BackOfficeError(f"{operation} gave no answer to read")
        return answer


def _args(account: str, market: str, draft: Draft) -> dict[str, object]:
    return {"account": account, "market": market, **draft.json(), "price": draft.price}


def _verdict(answer: Mapping[str, object]) -> Verdict:
    words = {lang: str(answer.get(f"reason_{lang}") or "") for lang in ("zh", "en")}
    order_no, status = answer.get("order_no"), answer.get("status")
    return Verdict(
        ok=bool(answer.get("ok")),
        reason=str(answer.get("reason") or ""),
        words={lang: text for lang, text in words.items() if text},
        order_no=None if order_no in (None, "") else str(order_no),
        status=None if status in (None, "") else str(status),
        amount=_maybe_money(answer.get("amount")),
        cost=_maybe_money(answer.get("cost")),
    )


def _money(value: object) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _maybe_money(value: object) -> Decimal | None:
    try:
        return None if value is None or value == "" else _money(value)
    except InvalidOperation:
        return None


def read_back(account: str, draft: Draft, quote: Quote) -> dict[str, str]:
    """What the agent reads to the caller before placing (the IVR's confirmation, in words):
    side, name and code, quantity, price and the account's last four digits."""
    tail = account[-4:]
    zh_side = "买入" if draft.side == "buy" else "卖出"
    en_side = "buy" if draft.side == "buy" else "sell"
    name_en = quote.name_en or quote.name
    return {
        "zh": (
            f"您委托{zh_side}{quote.name}，代码{draft.code}，数量{draft.qty}股，价格{draft.price}元，"
            f"资金账号尾号{tail}。请问是否确认？"
        ),
        "en": (
            f"You are about to {en_side} {draft.qty} shares of {name_en}, code {draft.code}, at "
            f"{draft.price} yuan, from the account ending {tail}. Do you confirm?"
        ),
    }
