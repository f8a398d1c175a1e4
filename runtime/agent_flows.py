"""Flows an agent sends a queued caller into: `CallFlowRunner`, the `CallFlows` of one call.

Place: the `enqueue` step makes one for its call and hands it to the ACD in the
`QueueRequest`; the agent connector runs it while the caller talks with an agent (inside
the ACD's `bridge`, in the caller's own task tree, while the `enqueue` step waits). The
flow runs on the call's own stack, in a fresh frame like a subflow: its prompts, keys,
records and secret masking are those of any flow. Only flows the service lists under
`agent_flows:` may run. What comes back is the flow's outcome and its declared outputs,
masked while the flow's frame (and so its secrets) is still on the stack: an agent gets
"verified", never the PIN.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from ivr.flowlang import expressions
from ivr.flowlang.checks.secrets import secret_sources
from ivr.flowlang.ir import Flow, VariableDecl
from ivr.runtime.context import MASK, CallContext, Frame
from ivr.runtime.outcomes import Ending, FlowFailure, MissingEdge, Returned
from ivr.runtime.ports import FlowRefused, FlowResult

log = logging.getLogger("ivr.runtime.agent_flows")
MAX_DEPTH = 16  # as for subflows: the caller's stack may already hold a few flows


class CallFlowRunner:
    """`CallFlows` over one call's context (only that call's task tree uses it)."""

    def __init__(self, call: CallContext) -> None:
        self.call = call

    def check(self, flow: str, inputs: Mapping[str, object]) -> None:
        self._prepare(flow, inputs)

    async def run(self, flow: str, inputs: Mapping[str, object]) -> FlowResult:
        compiled, given = self._prepare(flow, inputs)
        call = self.call
        if len(call.stack) >= MAX_DEPTH:
            raise FlowRefused(f"the call already runs {len(call.stack)} flows")
        call.leg.clear_digits()  # keys pressed while talking with the agent answer nothing here
        await call.event("agent_flow", None, flow=flow, phase="started", inputs=call.mask_mapping(given))
        frame = Frame.start(compiled, given)
        call.stack.append(frame)
        try:
            try:
                ending = await call.runner(call, frame)
            except (FlowFailure, MissingEdge, expressions.EvaluationError) as failure:
                log.warning(
                    "call %s: agent flow '%s' failed: %s",
                    call.leg.call_id,
                    flow,
                    call.mask_text(str(failure)),
                )
                result = FlowResult(flow, "failed")
            else:
                result = _result(call, frame, ending)
        finally:
            call.pop_frame()
        await call.event(
            "agent_flow", None, flow=flow, phase="ended", ending=result.ending, outcome=result.outcome,
            outputs=dict(result.outputs),
        )  # fmt: skip
        return result

    def _prepare(self, name: str, inputs: Mapping[str, object]) -> tuple[Flow, dict[str, object]]:
        """The flow and its inputs as it declares them; `FlowRefused` when it may not run."""
        service = self.call.project.service
        offered = service.agent_flows if service is not None else {}
        flow = self.call.project.flows.get(name)
        if name not in offered or flow is None:
            choices = ", ".join(sorted(offered)) or "none"
            raise FlowRefused(f"agents may not send callers into flow {name!r} (agent flows: {choices})")
        given: dict[str, object] = {}
        for decl in flow.inputs:
            value = inputs.get(decl.name)
            if value is None or value == "":
                if decl.required:
                    raise FlowRefused(f"flow {name!r} needs the input {decl.name!r}")
                continue
            if decl.secret:
                raise FlowRefused(
                    f"flow {name!r} takes a secret input ({decl.name!r}); agents never hold one"
                )
            given[decl.name] = _as_declared(name, decl, value)
        return flow, given


def _as_declared(flow: str, decl: VariableDecl, value: object) -> object:
    """A value from a desktop (JSON: text, numbers, true/false) as the input's type."""
    match decl.type:
        case "string" if isinstance(value, str | int | Decimal) and not isinstance(value, bool):
            return str(value)
        case "number" if isinstance(value, str | int | float | Decimal) and not isinstance(value, bool):
            try:
                number = Decimal(str(value).strip())
            except InvalidOperation:
                number = Decimal("NaN")
            if number.is_finite():
                return number
        case "boolean" if isinstance(value, bool):
            return value
        case "any" | "list" | "map":
            return value
    raise FlowRefused(f"flow {flow!r}: the input {decl.name!r} must be a {decl.type}, not {value!r}")


def _result(call: CallContext, frame: Frame, ending: Ending) -> FlowResult:
    """The flow's outcome and outputs, masked (call while `frame` is still on the stack)."""
    flow = frame.flow
    if not isinstance(ending, Returned):
        return FlowResult(flow.name, "finished")
    hidden = set(secret_sources(flow)) | frame.secrets | {d.name for d in flow.outputs if d.secret}
    outputs = {
        name: MASK if name in hidden and value is not None else call.mask(value)
        for name, value in ending.outputs.items()
    }
    return FlowResult(flow.name, "returned", ending.outcome, outputs)
