"""What a step hands back to the interpreter loop, and the failures that end a call.

A step returns the `Edge` to follow, or an `Ending`: `Finished` (the call is over, and how),
`Returned` (a subflow's `return`) or `BackTo` (the global `back` key leads into a calling
flow). Expected failures are edges; when the edge a failure
needs is missing, `need` raises `MissingEdge`, and the loop wraps every unexpected exception
in a `FlowFailure` that knows the flow file, line and node: the call boundary logs it,
plays the fallback prompt and ends that call as "failed".
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from ivr.flowlang.ir import Edge, Flow, Node


@dataclass(frozen=True, slots=True)
class Finished:
    """The call is over, and how (a step never ends a call as "caller_hangup", "failed" or
    "interrupted": the engine's boundary decides those)."""

    how: Literal["completed", "transferred", "agent", "callback"]


@dataclass(frozen=True, slots=True)
class Returned:
    """A `return` node ran: the outcome name and the outputs, handed to the calling flow."""

    outcome: str | None
    outputs: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class BackTo:
    """The caller pressed the global `back` key, and the input node before this one belongs
    to a calling flow (`frame`, a `Frame` of the call's stack): the flows above it end and
    that flow continues at `node`, as if its edge `label` led there."""

    frame: object
    node: str
    label: str


Ending = Finished | Returned | BackTo
StepResult = Edge | Ending


class MissingEdge(Exception):
    """A node had to take an edge the flow does not define (e.g. no `on_error`): give the
    node that edge, or make the failure impossible. The call ends with the fallback."""


class FlowFailure(Exception):
    """An unexpected failure inside a flow, located at a node: ends the call as "failed"."""

    def __init__(
        self, flow: Flow, node: Node, cause: BaseException, mask: Callable[[str], str] | None = None
    ) -> None:
        # `mask` hides the call's secrets: it runs here, while the failing flow's frame (and
        # its secrets) is still on the call stack, so the message and `trace` carry no PIN
        # wherever they are logged later (a parent flow's `on_error`, the call boundary).
        hide = mask or (lambda text: text)
        self.detail = hide(str(cause))
        super().__init__(
            f"{flow.file}:{node.span.line}: node '{node.id}' of flow '{flow.name}': {self.detail}"
        )
        self.flow = flow
        self.node = node
        self.cause = cause
        self.trace = hide("".join(traceback.format_exception(cause)))

    @property
    def location(self) -> str:
        return f"{self.flow.file}:{self.node.span.line}"


def need(edge: Edge | None, node: Node, label: str) -> Edge:
    """`edge`, or `MissingEdge` naming what the node lacks."""
    if edge is None:
        raise MissingEdge(f"node '{node.id}' has no '{label}' edge to take")
    return edge
