"""SMS keyword checks (FL622-FL623): the flows an SMS channel's keyword table runs.

An `inbound: keywords:` entry with `flow:` runs that flow as a text conversation, its
`args:` taken from the words after the keyword. The flow must be part of the project
(FL622), and its inputs must match: every arg names an input of the flow, and every
required input is an arg (FL623); a text has no other way to give one.
"""

from __future__ import annotations

from collections.abc import Iterator

from ivr.flowlang.checks.context import Checking, error, listing
from ivr.flowlang.diagnostics import Diagnostic, did_you_mean
from ivr.flowlang.ir import Flow, SmsKeyword


def check_sms_keywords(c: Checking) -> Iterator[Diagnostic]:
    service = c.project.service
    if service is None or not c.whole_project:
        return
    for channel in service.channels.values():
        for keyword in channel.keywords:
            if keyword.flow is None:
                continue
            flow = c.project.flows.get(keyword.flow)
            if flow is None:
                if keyword.flow not in c.unreadable_flows:
                    yield _unknown(channel.name, keyword, list(c.project.flows))
                continue
            yield from _inputs(channel.name, keyword, flow)


def _unknown(channel: str, keyword: SmsKeyword, flows: list[str]) -> Diagnostic:
    hint = did_you_mean(keyword.flow or "", flows) or (
        f"flows: {listing(flows)}" if flows else "no flows loaded"
    )
    message = f"channel '{channel}': keyword {keyword.word} runs flow '{keyword.flow}', which does not exist"
    return error("FL622", message, keyword.span, hint)


def _inputs(channel: str, keyword: SmsKeyword, flow: Flow) -> Iterator[Diagnostic]:
    names = [i.name for i in flow.inputs]
    where = f"channel '{channel}': keyword {keyword.word}"
    for arg in keyword.args:
        if arg not in names:
            hint = did_you_mean(arg, names) or (
                f"its inputs: {listing(names)}" if names else "it takes no inputs"
            )
            yield error(
                "FL623",
                f"{where} gives flow '{flow.name}' an input '{arg}' it does not take",
                keyword.span,
                hint,
            )
    missing = [i.name for i in flow.inputs if i.required and i.name not in keyword.args]
    if missing:
        hint = f"add them to `args:` (the words after the keyword, in order): {', '.join(missing)}"
        yield error(
            "FL623", f"{where} runs flow '{flow.name}' without its required input(s)", keyword.span, hint
        )
