"""Hosting: the composition of the runtime as a long-running telephony server (`ivr serve`).

Place: the outer ring, above every other adapter; `ivr.commands.serve` only parses flags,
plans and calls `serve(config, plan)`. Module by module, from the outside in:

- `config`: `HostingConfig`, the service's settings (defaults, environment, CLI flags).
- `plan`: the tenants resolved and checked before anything starts (a hosting file's, or one
  flows folder as one tenant); `layout`: where each tenant's files live.
- `server`: `serve(config, plan)`, the composition root of a hosted process: pjsua2
  endpoint, SQLite records, the tenants, HTTP, signals and the graceful shutdown.
- `tenants`: one `Tenant` each: its module's life (`modules`), its agents (ACD, desktop),
  its prompt cache and its flows versions, each an `Engine` over its own ports.
- `versions`, `publishing`: versions kept on disk; the one publishing path (check, keep,
  swap) that `ivr publish`, the HTTP API and the flow editor take.
- `supervisor`: `CallSupervisor`, one trio task per call in one nursery; admission, DID
  routing to a tenant and its seats decide each call first (`admission`).
- `leg`: `HostedCallLeg`, the SIP leg with a server-made call id and whole-call recording.
- `prompts`: pre-rendering of static prompts at start-up; the in-memory prompt cache.
- `live`: the live call table and traces (a `CallRecords` tap in front of SQLite).
- `queues`: with an agents file, the ACD's queue settings, announcements, hold music, and
  the journals of agent events (on the call records) and agents' logged-in time.
- `metrics`: on `prometheus_client`; `http`: the Starlette app (/health, /metrics, /calls,
  /tenants, /usage, publishing, the tenants' desks); `auth`: the API's tokens;
  `http_guard`: one failing HTTP connection does not stop hypercorn's worker.
- `testing`: tenants served in-process without SIP, and the module conformance check.
"""
