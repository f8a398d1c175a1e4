"""Data back-ends: the real `DataOperations` port (SQL, HTTP and Python plug-in operations).

Place: the outer ring. The composition root builds `ServiceOperations.from_service(...)` at
start-up; the runtime only sees the port. Module by module: `service` (declarations to
operations), `policy` (timeout, retries, backoff, idempotency key, statistics), one module per
backend (`sql` over `sqldatabase`/`pool`/`sqlvalues`, `http`, `python`), `errors`.
"""

from ivr.adapters.data.errors import ServiceConfigError
from ivr.adapters.data.policy import OperationStatistics, RetryPolicy
from ivr.adapters.data.service import ServiceOperations

__all__ = ["OperationStatistics", "RetryPolicy", "ServiceConfigError", "ServiceOperations"]
