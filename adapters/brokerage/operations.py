"""The brokerage's data operations, as the service file names them
(`function: ivr.adapters.brokerage.operations:get_quote`).

Each is a plain synchronous callable taking the operation's params as keyword arguments and
returning a dict (money as `Decimal`). Business refusals are answers (`ok: false` with a
`reason` and its words in `reason_zh` / `reason_en`); a call that cannot run at all raises
`BrokerageError`, which the data adapter turns into the lookup's `on_error` edge.
"""

from __future__ import annotations

from ivr.adapters.brokerage.account_info import (
    cash_balance,
    positions,
    prepare_statement,
    recent_transactions,
)
from ivr.adapters.brokerage.alerts import set_price_alert
from ivr.adapters.brokerage.auth import identify_caller, verify_fund_pin, verify_trading_pin
from ivr.adapters.brokerage.db import BrokerageError
from ivr.adapters.brokerage.desk import (
    close_complaint,
    complaint_departments,
    complaint_tickets,
    file_complaint,
    reroute_complaint,
)
from ivr.adapters.brokerage.funds import report_card_loss, transfer
from ivr.adapters.brokerage.market_data import company_info, get_quote, market_summary, period_high_low
from ivr.adapters.brokerage.material import prepare_material
from ivr.adapters.brokerage.trading import cancel_order, check_order, order_status, place_order

__all__ = [
    "BrokerageError",
    "cancel_order",
    "cash_balance",
    "check_order",
    "close_complaint",
    "company_info",
    "complaint_departments",
    "complaint_tickets",
    "file_complaint",
    "get_quote",
    "identify_caller",
    "market_summary",
    "order_status",
    "period_high_low",
    "place_order",
    "positions",
    "prepare_material",
    "prepare_statement",
    "recent_transactions",
    "report_card_loss",
    "reroute_complaint",
    "set_price_alert",
    "transfer",
    "verify_fund_pin",
    "verify_trading_pin",
]
