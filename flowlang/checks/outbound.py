"""Outbound checks (FL704-FL707): campaigns run outbound flows over contact lists that have
what those flows read, and flows set only the dispositions they declare.

- FL704: a campaign's `flow` exists and declares `outbound:`;
- FL705: the campaign's CSV header has the number column, the time zone column (when
  named) and every required contact field of the flow;
- FL706: the CSV file can be read (the header line only: lists may be large);
- FL707: `set: {disposition: '...'}` with a literal the flow's `outbound.dispositions`
  does not list (`opted_out` always may be set).

A campaign on an SQL query is not run here: its columns are known only when it runs, and
`ivr campaign create` reports a missing one then.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from ivr.flowlang.checks.context import Checking, error
from ivr.flowlang.diagnostics import Diagnostic, did_you_mean
from ivr.flowlang.expressions import Literal
from ivr.flowlang.ir import DISPOSITION, OPTED_OUT, CampaignDecl, Flow, Service, Set

HEADER_LIMIT = 64 * 1024


def check_flow(flow: Flow, c: Checking) -> Iterator[Diagnostic]:
    if flow.outbound is None:
        return
    allowed = [*flow.outbound.dispositions, OPTED_OUT]
    for node in flow.nodes.values():
        if not isinstance(node, Set):
            continue
        for a in node.assignments:
            if a.variable != DISPOSITION or not isinstance(a.expr, Literal):
                continue
            value = a.expr.value
            if isinstance(value, str) and value not in allowed:
                hint = did_you_mean(value, allowed) or f"declared: {', '.join(allowed)}"
                message = f"node '{node.id}' sets disposition '{value}', which the flow does not declare"
                yield error("FL707", message, a.expr.span, hint, node)


def check_campaigns(c: Checking) -> Iterator[Diagnostic]:
    service = c.project.service
    if service is None:
        return
    for campaign in service.campaigns.values():
        flow = c.project.flows.get(campaign.flow)
        if not campaign.flow:
            continue
        if flow is None:
            if c.whole_project and campaign.flow not in c.unreadable_flows:
                hint = did_you_mean(campaign.flow, c.project.flows) or "name one of the project's flows"
                message = f"campaign '{campaign.name}' runs flow '{campaign.flow}', which does not exist"
                yield error("FL704", message, campaign.flow_span, hint)
            continue
        if flow.outbound is None:
            message = f"campaign '{campaign.name}' runs flow '{flow.name}', which is not an outbound flow"
            hint = f"add `outbound:` to {flow.file} (the contact fields it reads, its dispositions)"
            yield error("FL704", message, campaign.flow_span, hint)
            continue
        yield from _contact_list(service, campaign, flow)


def _contact_list(service: Service, campaign: CampaignDecl, flow: Flow) -> Iterator[Diagnostic]:
    source = campaign.contacts
    if source.csv is None:
        return
    path = Path(service.file).parent / source.csv
    header = read_header(path)
    if isinstance(header, str):
        message = f"campaign '{campaign.name}': the contact list {source.csv} cannot be read: {header}"
        yield error("FL706", message, source.span, "give a CSV file relative to the service file")
        return
    wanted = [(source.number, "the phone number column (`contacts.number`)")]
    if source.timezone is not None:
        wanted.append((source.timezone, "the time zone column (`contacts.timezone`)"))
    assert flow.outbound is not None
    wanted += [
        (d.name, f"contact field '{d.name}' of flow '{flow.name}'")
        for d in flow.outbound.contact
        if d.required
    ]
    for column, what in wanted:
        if column not in header:
            hint = did_you_mean(column, header) or f"its columns: {', '.join(header) or '(none)'}"
            message = f"campaign '{campaign.name}': {source.csv} has no column '{column}', {what}"
            yield error("FL705", message, source.span, hint)


def read_header(path: Path) -> list[str] | str:
    """The column names of a CSV file's first line, or why they cannot be read."""
    try:
        with path.open("rb") as handle:
            head = handle.read(HEADER_LIMIT)
    except OSError as exc:
        return "it is a folder" if path.is_dir() else (exc.strerror or str(exc)).lower()
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError:
        return "it is not UTF-8 text"
    first = text.splitlines()[0] if text.strip() else ""
    if not first:
        return "it is empty (a header line such as `phone,name` comes first)"
    return [name.strip() for name in next(csv.reader(io.StringIO(first)))]
