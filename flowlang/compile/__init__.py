"""The compiler: checked YAML data in, frozen IR (or diagnostics) out; stage 3 of flowlang.

Pipeline: `yamlsource.load_yaml` (text -> data + source map) -> `validation` (shape, FL1xx)
-> `compile` (IR, expression errors FL2xx) -> `checks` (graph, languages, variables, service
references); `project` runs them all. One module per step: `reader` gives typed,
never-failing access to the loaded YAML with spans; `values` builds durations,
expressions, templates and prompts; `nodes` builds one IR node per kind; `flow` and
`service` assemble whole documents. This package's top level is its public face.
"""

from __future__ import annotations

from ivr.flowlang.compile.flow import FlowBuild, build_flow
from ivr.flowlang.compile.service import build_service
from ivr.flowlang.compile.values import parse_duration
from ivr.flowlang.diagnostics import Diagnostic
from ivr.flowlang.ir import Flow, Service
from ivr.flowlang.yamlsource import SourceMap

__all__ = ["FlowBuild", "build_flow", "build_service", "compile_flow", "compile_service", "parse_duration"]


def compile_flow(data: object, source_map: SourceMap, file: str) -> tuple[Flow | None, list[Diagnostic]]:
    """Build a `Flow` from loaded YAML data. The flow comes back even with errors when its
    skeleton could be built (callers must refuse to run a flow with any error); None when
    the document is not a flow at all. Semantic checks are `ivr.flowlang.checks`."""
    build = build_flow(data, source_map, file)
    return build.flow, build.diagnostics


def compile_service(
    data: object, source_map: SourceMap, file: str
) -> tuple[Service | None, list[Diagnostic]]:
    """Build the `Service` from loaded YAML data, with its shape diagnostics."""
    return build_service(data, source_map, file)
