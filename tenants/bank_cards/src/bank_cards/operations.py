"""The hotline's operations: calls to the bank's card service, one HTTP request each.

Every operation is an `async def` (ivr awaits it in the caller's task and cancels it at the
operation's timeout), takes the tenant's `ModuleContext` first and answers a dict of the
fields the service file declares. A refusal by the bank (wrong PIN, unknown card) is an
answer; the service being down or failing is an exception: `ConnectionError` (retried by
ivr when the operation allows retries) or `ValueError`. Messages never hold a card number
or a PIN.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal

import httpx

from ivr.runtime.modules import ModuleContext

DEFAULT_URL = "http://127.0.0.1:8710"


class CardService:
    """The client of one tenant's card service, opened by `start` and closed by `stop`."""

    def __init__(self) -> None:
        self._client: httpx.AsyncClient | None = None

    async def start(self, ctx: ModuleContext) -> None:
        url = ctx.setting("card_service_url", DEFAULT_URL)
        key = ctx.setting("card_service_key", "demo-key")
        # No client timeout: ivr applies each operation's own and cancels the request.
        self._client = httpx.AsyncClient(base_url=url, headers={"X-Api-Key": key}, timeout=None)
        ctx.log.info("card service at %s", url)

    async def stop(self, ctx: ModuleContext) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def verify_pin(self, ctx: ModuleContext, card: str, pin: str) -> dict[str, object]:
        """`{ok, locked, attempts_left}`: the card's PIN checked by the bank."""
        return await self._call("POST", "/v1/cards/verify", {"card": str(card), "pin": str(pin)})

    async def card_balance(self, ctx: ModuleContext, card: str) -> dict[str, object]:
        """`{found, status, currency, available, holder, holder_en}` of a card."""
        return await self._call("GET", f"/v1/cards/{_digits(card)}/balance")

    async def report_loss(
        self, ctx: ModuleContext, card: str, id_last6: str, caller: str
    ) -> dict[str, object]:
        """Report a card lost (the bank freezes it): `{ok, report_no, reason, reason_zh, reason_en}`."""
        body = {"id_last6": str(id_last6), "caller": str(caller)}
        return await self._call("POST", f"/v1/cards/{_digits(card)}/loss", body)

    async def _call(
        self, method: str, path: str, body: Mapping[str, object] | None = None
    ) -> dict[str, object]:
        if self._client is None:
            raise ConnectionError("the card service client is not open (the module has not started)")
        try:
            response = await self._client.request(method, path, json=body)
        except httpx.TransportError as exc:
            raise ConnectionError(f"card service unreachable: {type(exc).__name__}") from exc
        if response.status_code >= 500:
            raise ConnectionError(f"card service failed with HTTP {response.status_code}")
        if response.status_code >= 400:
            raise ValueError(f"card service refused the request with HTTP {response.status_code}")
        answer = json.loads(response.content, parse_float=Decimal)
        if not isinstance(answer, dict):
            raise ValueError("card service answered something other than a JSON object")
        return answer


def _digits(card: str) -> str:
    text = str(card)
    if not text.isdigit():
        raise ValueError("a card number is digits")
    return text
