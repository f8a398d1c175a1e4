"""The flows an agent may send a caller into, as the desktop offers them.

Place: built once by the composition root from the service's `agent_flows:` (and the flows'
declared inputs) and handed to `build_cti_app`; the `flow` command refuses any other name,
and the runtime's `CallFlowRunner` checks again. The desktop gets each flow's label and
outcome words in every language the service wrote them in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ivr.flowlang.ir import Project


@dataclass(frozen=True)
class DeskFlow:
    """One flow on the desktop: its label, its outcomes in words, the inputs it takes (the
    CTI fills them from what it knows of the call, the desktop may add to them)."""

    name: str
    label: Mapping[str, str] = field(default_factory=dict)
    outcomes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()

    def json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "label": dict(self.label),
            "outcomes": {name: dict(words) for name, words in self.outcomes.items()},
            "inputs": list(self.inputs),
        }


def desk_flows(project: Project) -> dict[str, DeskFlow]:
    """The service's agent flows that the project holds, by name."""
    service = project.service
    if service is None:
        return {}
    offered: dict[str, DeskFlow] = {}
    for name, decl in service.agent_flows.items():
        flow = project.flows.get(decl.flow)
        if flow is not None:
            inputs = tuple(d.name for d in flow.inputs if not d.secret)
            offered[name] = DeskFlow(name, decl.label, decl.outcomes, inputs)
    return offered
