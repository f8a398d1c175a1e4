"""CTI adapter: the agent desktop and a WebSocket CTI protocol over the ACD.

Place: the outer ring, beside SIP. It serves agents, not callers: `build_cti_app` is a
Starlette app (the desktop's static files, POST /cti/login, WS /cti/ws) over
`ivr.runtime.acd`, the call records and the agent connector's call control. Layout, from
the wire inwards:

- `app`: routes, static files, login, security headers; `websocket`: the WebSocket transport
- `session`: one desktop connection; `auth`: logins (throttled, journaled) for both entry points
- `commands`: what each command does, and who may; `transfers`: transfers, consultations,
  conferences
- `protocol`: message parsing and JSON (pure; docs/cti.md is the reference)
- `server`: follows the ACD's events and fans them out; `calls`: who is on which call, in
  which role (`CallBook`)
- `control`: the call control a connector offers (`CallControl`) and the `Conversation`
  both connectors run; `mixing`: who hears whom (pure)
- `accounts`, `store`, `tokens`, `throttle`, `settings`, `audit`: agent accounts (YAML file
  or SQLite), scrypt, tokens, login lock-outs, the desktop's settings, the agents' journal
- `testing`: `DeskConnector`, an in-memory connector with call control
"""

from ivr.adapters.cti.accounts import (
    AccountsError,
    AgentAccount,
    AgentDirectory,
    AgentFile,
    hash_password,
    load_agents_file,
    verify_password,
)
from ivr.adapters.cti.app import CtiApp, build_cti_app, mount_cti
from ivr.adapters.cti.audit import AgentEvent, AgentJournal, MemoryAgentJournal, SqliteAgentJournal
from ivr.adapters.cti.calls import NotConnected
from ivr.adapters.cti.control import CallControl, Dial
from ivr.adapters.cti.settings import DeskSettings
from ivr.adapters.cti.store import SqliteAgentStore

__all__ = [
    "AccountsError",
    "AgentAccount",
    "AgentDirectory",
    "AgentEvent",
    "AgentFile",
    "AgentJournal",
    "CallControl",
    "CtiApp",
    "DeskSettings",
    "Dial",
    "MemoryAgentJournal",
    "NotConnected",
    "SqliteAgentJournal",
    "SqliteAgentStore",
    "build_cti_app",
    "hash_password",
    "load_agents_file",
    "mount_cti",
    "verify_password",
]
