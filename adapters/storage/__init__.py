"""Durable storage: call records on SQLite (the `CallRecords` port) and its read helpers.

Place: the outer ring. `records` is the port (writes go through `writer`'s group commit),
`reads` the queries for reports and tests, `schema` the connection settings and numbered
migrations, `codec` how values are kept exact as text.
"""

from ivr.adapters.storage.reads import CallRecord, StoredRecording
from ivr.adapters.storage.records import RecordsError, SqliteCallRecords, open_sqlite_call_records
from ivr.adapters.storage.schema import SchemaError

__all__ = [
    "CallRecord",
    "RecordsError",
    "SchemaError",
    "SqliteCallRecords",
    "StoredRecording",
    "open_sqlite_call_records",
]
