"""PostgreSQL as the shared store of several `ivr serve` instances (docs/cluster.md).

Place: the outer ring, beside `ivr.adapters.storage` (the SQLite default). `database` is
the connection pool used from trio, `migrations` the versioned schemas, `records` and
`campaigns` the stores behind the runtime's ports.
"""
