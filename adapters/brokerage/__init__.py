"""The demo back office of a Chinese securities brokerage, behind the brokerage flows.

Plain synchronous Python over SQLite: the service file (`flows/service.yaml`) declares each
function of `ivr.adapters.brokerage.operations` as a `backend: python` data operation, and the
data adapter runs them in a worker thread. Nothing here knows about calls or flows.

Modules: `clock` (trading calendar, Asia/Shanghai), `rules` (A-share order rules and fees),
`pins` (salted slow PIN hashes), `db` (schema, migrations, connections), `seed` (demo data),
`auth`, `market_data`, `account_info`, `trading`, `funds`, `desk` (the operations, re-exported
by `operations`), `matching` (a small matching simulator that moves quotes and fills orders).
"""
