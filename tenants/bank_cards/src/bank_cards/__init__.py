"""A bank's card-services hotline, shipped as an ivr tenant module.

The entry point `bank_cards` (group `ivr.modules`) names `create`: ivr calls it once per
tenant that uses this package, so each tenant gets its own client to the card service.
The module provides the flows (`flows/`, Mandarin first, English second), three operations
against the bank's card service over HTTP (`operations`), and the hooks that open and close
that service's client. The card service itself is the bank's own program
(`bank-card-service`, `cardservice.py`), run beside ivr, never inside it.

Settings (the tenant's `settings:` in the hosting file): `card_service_url` (default
http://127.0.0.1:8710) and `card_service_key`, the API key the service expects.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from bank_cards.operations import CardService
from ivr.runtime.modules import Module

FLOWS = Path(__file__).resolve().parent / "flows"


def create() -> Module:
    service = CardService()
    return Module(
        name="bank_cards",
        operations={
            "verify_pin": service.verify_pin,
            "card_balance": service.card_balance,
            "report_loss": service.report_loss,
        },
        flows=FLOWS,
        start=service.start,
        stop=service.stop,
        version=_version(),
    )


def _version() -> str:
    try:
        return metadata.version("bank-cards-hotline")
    except metadata.PackageNotFoundError:
        return "source"
