"""Semantic checks: stage 4 of flowlang (YAML -> schema -> IR -> *checks*).

One small module per family, each a generator of diagnostics over the frozen IR:
`graph` (FL3xx), `languages` (FL4xx), `variables` (FL2xx via expressions, FL50x),
`secrets` (FL51x), `services` (FL60x, FL611-612), `subflows` (FL606-610, FL308),
`types` (FL208-FL211: the expression type checker and declared types), `globalkeys`
(FL310-FL314: keys that work in every menu, collect and confirm), `outbound` (FL704-FL707:
campaigns, contact lists, dispositions), `agentflows` (FL630-FL632: the flows agents may send
callers into), `smskeywords` (FL622-FL623: the flows an SMS keyword table runs), `callbacks`
(FL730-FL733: queue callback offers), `channels` (FL960: what a web chat cannot do).
`check_project` runs them all and ranks the result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ivr.flowlang.checks import (
    agentflows,
    callbacks,
    channels,
    globalkeys,
    graph,
    languages,
    outbound,
    secrets,
    services,
    smskeywords,
    subflows,
    types,
    variables,
)
from ivr.flowlang.checks.context import Checking, Gaps
from ivr.flowlang.diagnostics import Diagnostic, rank
from ivr.flowlang.ir import Flow, Project

__all__ = ["Checking", "Gaps", "check_project", "run_checks"]

FLOW_CHECKS: tuple[Callable[[Flow, Checking], Iterator[Diagnostic]], ...] = (
    graph.check_flow,
    languages.check_flow,
    variables.check_flow,
    secrets.check_flow,
    services.check_flow,
    subflows.check_flow,
    types.check_flow,
    outbound.check_flow,
    globalkeys.check_flow,
    callbacks.check_flow,
    channels.check_flow,
)
PROJECT_CHECKS: tuple[Callable[[Checking], Iterator[Diagnostic]], ...] = (
    services.check_numbers,
    subflows.check_recursion,
    outbound.check_campaigns,
    agentflows.check_agent_flows,
    smskeywords.check_sms_keywords,
    globalkeys.check_service,
)


def check_project(project: Project) -> list[Diagnostic]:
    """Every semantic problem of the project's flows and service, ranked."""
    return run_checks(Checking(project))


def run_checks(c: Checking) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for flow in c.all_flows():
        for check in FLOW_CHECKS:
            found.extend(check(flow, c))
    for project_check in PROJECT_CHECKS:
        found.extend(project_check(c))
    return rank(found)
