"""Hosting: the composition of the runtime as a long-running telephony server (`ivr serve`).

Place: the outer ring, above every other adapter; `ivr.commands.serve` only parses flags and
calls `serve(config)`. Module by module, from the outside in:

- `config`: `HostingConfig`, the service's settings (defaults, environment, CLI flags).
- `server`: `serve(config)`, the composition root of a hosted process: pjsua2 endpoint,
  SQLite records, outbox, data operations, engine, HTTP, the matching simulator, signals
  and the graceful shutdown.
- `supervisor`: `CallSupervisor`, one trio task per call in one nursery; admission and DID
  routing decide each call first (`admission`).
- `leg`: `HostedCallLeg`, the SIP leg with a server-made call id and whole-call recording.
- `prompts`: pre-rendering of static prompts at start-up; the in-memory prompt cache.
- `live`: the live call table and traces (a `CallRecords` tap in front of SQLite).
- `queues`: with an agents file, the ACD's queue settings, announcements in the caller's
  language, hold music, and the journal of agent events on the call records (the server
  mounts the CTI desktop beside the HTTP app).
- `metrics`: counters and Prometheus text; `http`: the ASGI app (/health, /metrics, /calls).
"""
