"""Supervisor pages: the wall board, recordings, complaint tickets and reports of one tenant.

Place: the outer ring, beside the agent desktop (`ivr.adapters.cti`), whose ACD, accounts,
tokens and agents' journal it shares; the host (`ivr.adapters.hosting`) mounts one per
tenant with agents. Layout:

- `app`: routes, the board's WebSocket, playback, the audit lines; `access`: who may
- `board`: the wall board's JSON from the ACD's live state and today's figures (pure)
- `recordings`: searching a tenant's recordings (bounded, indexed, read-only)
- `tickets`: complaint tickets through the tenant module's operations
- `reports`: `ivr report`'s figures for the pages (the same checks, the same CSV)
- `static/`: the page (HTML, CSS, one ES module; the chart is inline SVG)
"""

from ivr.adapters.supervision.app import Sources, SupervisorApp
from ivr.adapters.supervision.tickets import ModuleTickets, tickets_of

__all__ = ["ModuleTickets", "Sources", "SupervisorApp", "tickets_of"]
