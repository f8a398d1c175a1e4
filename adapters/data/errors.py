"""Errors of the data adapters (the outer ring behind the runtime's `DataOperations` port).

`ServiceConfigError` is raised at start-up, before any call is answered. `BackendFailure` is
raised by one backend attempt and never leaves this package: the retry policy turns it into
the port's `OperationError` / `OperationTimeout`.
"""

from __future__ import annotations

from collections.abc import Sequence

from ivr.adapters.errors import AdapterError, ConfigError


class ServiceConfigError(ConfigError):
    """The service's adapters cannot run as declared; nothing was started.

    Fix the service file: `problems` holds one line per problem, each naming the operation
    (or channel) and its place in the file. All problems are listed, not just the first.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(("the service's adapters are misconfigured:", *self.problems)))


class BackendFailure(AdapterError):
    """One backend attempt failed. `retryable` is True only for transient trouble
    (connection errors, a busy database, HTTP 5xx); the policy may then try again."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable
