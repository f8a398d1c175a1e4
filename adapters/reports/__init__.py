"""Reports: durable statistics recomputed from the call records and the agents' journal.

Place: the outer ring, under `ivr report` and `ivr draw --stats`. Nothing here is kept in
memory between runs: every figure is computed again from what the server wrote durably, so
a restart loses nothing.

- `rows`    the plain input rows and the report's intervals (pure);
- `facts`   one call's events -> its queue contacts, agent parts and node visits (pure);
- `figures` facts -> figures per interval and per tenant, queue, flow, agent or node (pure);
- `sqlite`  the reader: indexed, bounded time-range queries (refuses absurd ranges);
- `output`  tables, CSV and JSON.
"""

from ivr.adapters.reports.figures import BY, Report, ReportRow, compute
from ivr.adapters.reports.rows import INTERVALS, ReportQuery
from ivr.adapters.reports.sqlite import ReportQueryError, read_inputs

__all__ = [
    "BY",
    "INTERVALS",
    "Report",
    "ReportQuery",
    "ReportQueryError",
    "ReportRow",
    "compute",
    "read_inputs",
]
