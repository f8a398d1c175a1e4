"""PostgreSQL: the shared store of a cluster (`docs/cluster.md`). `server` starts a local
server (for `ivr cluster up` and the tests); the stores live beside it."""
