"""`IdentityMemo`: facts about the compiled flow's immutable parts, worked out once.

The engine and its steps ask the same questions of the same flows, prompt templates and
expressions on every call (which data operations does it call? is it plain text? which
variables hold secrets?). The answers never change, so they
are remembered per object. The key is the object's identity, not its value: hashing a frozen
AST walks all of it, which is the cost being saved. Each entry holds its object, so an id is
never reused while remembered; past `limit` entries (flows loaded again and again) the memo
starts over.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class IdentityMemo(Generic[K, V]):
    """`memo(obj)` is `compute(obj)`, computed once per object."""

    def __init__(self, compute: Callable[[K], V], *, limit: int = 100_000) -> None:
        self._compute = compute
        self._limit = limit
        self._seen: dict[int, tuple[K, V]] = {}

    def __call__(self, key: K) -> V:
        seen = self._seen.get(id(key))
        if seen is not None and seen[0] is key:
            return seen[1]
        if len(self._seen) >= self._limit:
            self._seen.clear()
        value = self._compute(key)
        self._seen[id(key)] = (key, value)
        return value
