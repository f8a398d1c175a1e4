"""The one shape every data backend (SQL, HTTP, Python plug-in) has inside this package.

`ServiceOperations` wraps a backend in the retry policy; the backend only makes one attempt
and reports failure as `BackendFailure`. Timeouts are applied from outside (trio
cancellation), so a backend must be cancellable at every await.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class Backend(Protocol):
    """One declared operation bound to its backend, ready to make one attempt."""

    async def attempt(self, args: Mapping[str, object]) -> object:
        """Run the operation once with the declared parameters; raise `BackendFailure`."""
        ...
