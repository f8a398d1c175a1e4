"""Messages that really leave: the durable outbox and the workers that drain it.

Place: the outer ring, beside SIP. The engine's `send` nodes reach it through the
`MessageChannels` port (`OutboxChannels`); `ivr serve` opens one outbox per tenant and runs
one `DeliveryWorker` per channel that has a gateway:

    send node ──► OutboxChannels.send ──► outbox.sqlite3 (queued, durable)
                                              │ claim (sending, attempt counted)
                  DeliveryWorker ◄────────────┘
                      │ MailTransport: SMTP (STARTTLS/TLS, login), PDF attachment  (email)
                      │ MailTransport: SMTP to the fax gateway's address           (fax)
                      │ HttpSmsTransport: JSON POST / form POST / GET query         (sms)
                      ▼
                  sent · queued again after a back-off · dead · in_doubt
    wait_delivery ◄── settled: the flow hears the truth ("sent", "will be sent", "failed")

Modules: `store` (the table and its states), `channels` (the port), `worker`, `transport`
(the seam), `smtp`, `sms`, `documents` + `pdf` (statements as PDF with a CJK font),
`settings` (the service file's gateway settings, `${VARIABLE}` references), `service`
(`open_messaging`, the wiring), `http` (GET /messages), `testing` (`ScriptedTransport`).
docs/channels.md is the user's guide.
"""

from ivr.adapters.messaging.channels import ChannelSpec, OutboxChannels
from ivr.adapters.messaging.http import MessagesApi, mount_messages
from ivr.adapters.messaging.service import Messaging, OutboxPlace, open_messaging, open_outbox_at
from ivr.adapters.messaging.store import (
    STATUSES,
    AttemptRecord,
    MessageStatus,
    Outbox,
    OutboxError,
    OutboxStore,
    StoredMessage,
    open_outbox,
)

__all__ = [
    "STATUSES",
    "AttemptRecord",
    "ChannelSpec",
    "MessageStatus",
    "MessagesApi",
    "Messaging",
    "Outbox",
    "OutboxChannels",
    "OutboxError",
    "OutboxPlace",
    "OutboxStore",
    "StoredMessage",
    "mount_messages",
    "open_messaging",
    "open_outbox",
    "open_outbox_at",
]
