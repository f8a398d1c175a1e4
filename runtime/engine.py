"""The call engine: the interpreter loop and the one explicit call boundary.

`Engine.run_call` is one call: one trio task. Inside, `run_flow` walks the flow node by
node (behaviour lives in `ivr.runtime.steps`, one module per kind). Around it sits the call
boundary: a hang-up (`CallEnded`, or the leg's `HangupNotice` or `HangupWatch` cancelling
the call's scope) ends the call as "caller_hangup"; a `FlowFailure` (any unexpected
exception, located at flow file:line and node) is logged, the caller hears the fallback
prompt and the call ends as "failed". Nothing escapes to other calls. The record's end is
written shielded, whatever happened.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeGuard

import trio

from ivr.flowlang.checks.secrets import secret_sources
from ivr.flowlang.ir import Edge, Flow, Project
from ivr.runtime.context import MASK, MAX_STEPS, CallContext, CallPorts, Frame, Visit
from ivr.runtime.memo import IdentityMemo
from ivr.runtime.outcomes import BackTo, Ending, Finished, FlowFailure, MissingEdge
from ivr.runtime.ports import (
    CallEnded,
    CallEnding,
    CallLeg,
    HangupNotice,
    HangupWatch,
    OutboundCall,
    SpokenPrompt,
)
from ivr.runtime.steps import run_step

log = logging.getLogger("ivr.runtime.engine")
# A call runs at most this many nodes in a row without a schedule point: a flow looping
# through nodes that never wait (set, branch, log) still lets other calls run.
SCHEDULE_EVERY = 16

DEFAULT_FALLBACK: Mapping[str, str] = {
    "zh": "抱歉，系统暂时无法处理您的来电，请稍后再拨。再见。",
    "en": "Sorry, we cannot take your call right now. Please call again later. Goodbye.",
}


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """How a call went: `how` it ended, the path taken, the top flow's variables (masked)."""

    call_id: str
    flow: str
    how: CallEnding
    path: tuple[Visit, ...]
    variables: Mapping[str, object]
    failure: str | None = None

    @property
    def last_node(self) -> str | None:
        return self.path[-1].node if self.path else None


class Engine:
    """Runs calls of one project against one set of ports."""

    def __init__(
        self, project: Project, ports: CallPorts, *, fallback: Mapping[str, str] = DEFAULT_FALLBACK
    ) -> None:
        self.project = project
        self.ports = ports
        self.fallback = fallback

    def flow_for_number(self, dialed: str) -> str | None:
        """The entry flow the service routes a dialed number to."""
        service = self.project.service
        routes = service.numbers if service else ()
        return next((r.flow for r in routes if r.number == dialed), None)

    async def run_call(
        self,
        leg: CallLeg,
        flow: str,
        *,
        language: str | None = None,
        inputs: Mapping[str, object] | None = None,
        outbound: OutboundCall | None = None,
    ) -> CallOutcome:
        """Run one call to its end; never raises for anything the call itself does. An
        outbound call's flow reads `contact`, `campaign` and `call.direction`."""
        compiled = self.project.flows[flow]
        given = dict(inputs or {})
        if outbound is not None:
            given.update(contact=dict(outbound.contact), campaign=dict(outbound.campaign))
        top = Frame.start(compiled, given)
        call = CallContext(
            leg, self.ports, self.project, language or compiled.default_language, run_flow, [top]
        )
        if outbound is not None:
            call.direction, call.answered_by = "outbound", outbound.answered_by
        records = self.ports.records
        channel = call.channel
        await records.call_started(
            leg.call_id,
            flow=flow,
            caller=leg.caller,
            dialed=leg.dialed,
            at=call.now(),
            **({} if channel == "phone" else {"channel": channel}),
        )
        if call.channel != "phone":  # the record says where the caller was (a web chat)
            await call.event("channel", None, channel=call.channel)
        how: CallEnding = "interrupted"
        failure: str | None = None
        try:
            how, failure = await self._boundary(call)
        finally:
            # One scope, shielded and bounded (as `CancelScope(shield=True)` around
            # `move_on_after(30)`, one scope fewer for every call).
            with trio.CancelScope(shield=True, deadline=trio.current_time() + 30):
                await records.call_ended(leg.call_id, how=how, at=call.now())
        return CallOutcome(leg.call_id, flow, how, tuple(call.path), _outcome_variables(top), failure)

    async def _boundary(self, call: CallContext) -> tuple[CallEnding, str | None]:
        """The call boundary: every way a call can end becomes (how, failure). A hang-up the
        leg reports (`HangupNotice`, else `HangupWatch`) cancels whatever the call is doing."""
        leg = call.leg
        result: tuple[CallEnding, str | None] = ("caller_hangup", None)
        if _is_hangup_notice(leg):
            with trio.CancelScope() as scope:
                hangup = _Hangup(scope)
                leg.on_hangup(hangup)
                result = await self._flow(call)
            return ("caller_hangup", None) if hangup.seen else result
        watcher = _HangupWatcher()
        async with trio.open_nursery() as nursery:
            if _is_hangup_watch(leg):
                nursery.start_soon(watcher.watch, leg, nursery.cancel_scope)
            result = await self._flow(call)
            nursery.cancel_scope.cancel()
        return ("caller_hangup", None) if watcher.seen else result

    async def _flow(self, call: CallContext) -> tuple[CallEnding, str | None]:
        try:
            ending = await run_flow(call, call.frame)
            return (ending.how if isinstance(ending, Finished) else "completed", None)
        except CallEnded:
            return ("caller_hangup", None)
        except Exception as exc:  # the boundary: one bad call never touches another
            failure = exc if isinstance(exc, FlowFailure) else None
            _log_failure(call, failure or exc)
            await self._fallback(call)
            return ("failed", str(call.mask(str(exc))))

    async def _fallback(self, call: CallContext) -> None:
        language = call.language if call.language in self.fallback else next(iter(self.fallback))
        prompt = SpokenPrompt(self.fallback[language], language)
        try:
            with trio.move_on_after(60):
                await call.event("prompt", None, text=prompt.text, language=language, fallback=True)
                await call.leg.play(prompt, barge_in=False)
                await call.leg.hangup()
        except CallEnded:
            pass
        except Exception:  # best effort: the call is ending as failed whatever happens here
            log.exception("call %s: the fallback prompt could not be played", call.leg.call_id)


async def run_flow(call: CallContext, frame: Frame) -> Ending:
    """The interpreter loop: run nodes from the flow's start until one ends the flow.

    One coroutine for the whole walk, not one per node: a node's step is awaited from here,
    so each node costs one coroutine fewer to make, and every resumption of a waiting call
    passes through one frame fewer (docs/design.md, "Engine cost")."""
    flow = frame.flow
    nodes, name, path = flow.nodes, flow.name, call.path
    node = nodes[flow.start]
    while True:
        call.steps += 1
        visit = len(path)
        path.append(Visit(name, node.id, None))
        try:
            # A hang-up seen while the last node waited (the leg's notice cancelled the
            # call's scope) stops the call here, before any more work: a check, not a
            # schedule point, since most nodes wait anyway (a prompt, a key). Every
            # SCHEDULE_EVERY nodes a schedule point, so a hang-up during a run of nodes that
            # never wait is acted on within that many nodes, and other calls run meanwhile.
            if call.steps % SCHEDULE_EVERY:
                await trio.lowlevel.checkpoint_if_cancelled()
            else:
                await trio.lowlevel.checkpoint()
            if call.steps > MAX_STEPS:
                raise RuntimeError(
                    f"more than {MAX_STEPS} nodes in one call: a loop that never waits for the caller?"
                )
            await call.event("node_entered", node, flow=name)
            result = await run_step(node, call, frame)
            label = result.label if isinstance(result, _LABELLED) else None
            path[visit] = Visit(name, node.id, label)
            await call.event("node_left", node, flow=name, edge=label)
        except (CallEnded, FlowFailure):
            raise
        except Exception as exc:
            raise FlowFailure(flow, node, exc, mask=call.mask_text) from exc
        if not isinstance(result, Edge):
            return result
        node = nodes[result.target]


# The results that leave a node by a labelled edge (`isinstance` against `Edge | BackTo`
# would build the union at every node).
_LABELLED = (Edge, BackTo)


class _Hangup:
    """The `HangupNotice` callback: cancels the call's scope the moment the far end hangs up."""

    __slots__ = ("scope", "seen")

    def __init__(self, scope: trio.CancelScope) -> None:
        self.scope = scope
        self.seen = False

    def __call__(self) -> None:
        self.seen = True
        self.scope.cancel()


def _is_hangup_notice(leg: object) -> TypeGuard[HangupNotice]:
    # An attribute check: `isinstance` against a runtime-checkable Protocol costs microseconds.
    return callable(getattr(leg, "on_hangup", None))


def _is_hangup_watch(leg: object) -> TypeGuard[HangupWatch]:
    return callable(getattr(leg, "wait_ended", None))


class _HangupWatcher:
    """For legs with only `HangupWatch`: a task that cancels the call's nursery the moment
    the far end hangs up."""

    seen = False

    async def watch(self, leg: HangupWatch, scope: trio.CancelScope) -> None:
        await leg.wait_ended()
        self.seen = True
        scope.cancel()


def _log_failure(call: CallContext, exc: Exception) -> None:
    """Log a failed call: where, why and (for a bug, not a missing edge) the traceback, all
    with the call's secrets masked; the traceback is logged as masked text, never through
    `exc_info`, whose rendering would print the raw exception message."""
    if isinstance(exc, FlowFailure):
        where = f"{exc.location} node '{exc.node.id}' (flow '{exc.flow.name}')"
        quiet = isinstance(exc.cause, MissingEdge)
        message, trace = exc.detail, exc.trace
    else:
        where, quiet = "the call boundary", False
        message = call.mask_text(str(exc))
        trace = call.mask_text("".join(traceback.format_exception(exc)))
    details = "" if quiet else f"\n{trace.rstrip()}"
    log.error("call %s failed at %s: %s%s", call.leg.call_id, where, message, details)


def _flow_secret_sources(flow: Flow) -> frozenset[str]:
    return frozenset(secret_sources(flow))


# Which variables a flow fills from a secret: a walk of the whole flow, the same for every call.
_secret_sources = IdentityMemo(_flow_secret_sources)


def _outcome_variables(top: Frame) -> dict[str, object]:
    """The top flow's variables for the outcome (test reports, the simulator's summary):
    declared secrets and every variable a `set` filled from one (a copy of the PIN, its last
    digits) are `***`."""
    hidden = _secret_sources(top.flow) | top.secrets
    return {k: (MASK if k in hidden and v is not None else v) for k, v in top.variables.items()}
