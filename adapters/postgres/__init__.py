"""PostgreSQL: the shared store of several `ivr serve` instances (docs/cluster.md).

Place: the outer ring, beside `ivr.adapters.storage` (the SQLite default). `server` starts a
local server (for `ivr cluster up` and the tests); `database` is the connection pool the
stores use from trio, `migrations` their versioned schemas, `records` and the other stores
sit behind the runtime's ports.
"""
