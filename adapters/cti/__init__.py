"""CTI adapter: the agent desktop and a WebSocket CTI protocol over the ACD.

Place: the outer ring, beside SIP. It serves agents, not callers: `build_cti_app` is an
ASGI app (the desktop's static files, POST /cti/login, WS /cti/ws) over `ivr.runtime.acd`,
the call records and the agent connector's call control. Layout, from the wire inwards:

- `app`: routes, static files, login; `websocket`: the ASGI WebSocket transport
- `session`: one desktop connection; `commands`: what each command does, and who may
- `protocol`: message parsing and JSON (pure; docs/cti.md is the reference)
- `server`: follows the ACD's events and fans them out; `calls`: ownership (`CallBook`)
  and the `CallControl` a connector offers; `control`: its shared bookkeeping
- `accounts`, `store`, `tokens`: agent accounts (YAML file or SQLite), scrypt, tokens
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
from ivr.adapters.cti.calls import CallControl, NotConnected
from ivr.adapters.cti.store import SqliteAgentStore

__all__ = [
    "AccountsError",
    "AgentAccount",
    "AgentDirectory",
    "AgentFile",
    "CallControl",
    "CtiApp",
    "NotConnected",
    "SqliteAgentStore",
    "build_cti_app",
    "hash_password",
    "load_agents_file",
    "mount_cti",
    "verify_password",
]
