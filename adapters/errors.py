"""The root of every error the adapters raise, so an operator-facing boundary (a command, the
server's start-up) can tell "the outer ring refused" from a bug with one `except`.

Place: imported by every adapter package; it imports nothing of ours. Subclasses keep their
own names and docstrings that say what to do; `ConfigError` is the one class for "a setting
or a declared part cannot be used, nothing was started".
"""

from __future__ import annotations


class AdapterError(Exception):
    """Something outside the engine (SIP, storage, speech, a back end, the desktop) failed or
    refused. The subclass says which and what to do."""


class ConfigError(AdapterError):
    """A setting or a declared part cannot be used (a port out of range, an operation whose
    back end is missing); nothing was started. The message names the setting and where it
    came from: fix the flag, variable or file."""
