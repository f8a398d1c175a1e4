"""What the editor offers to complete, from the real schema and the project.

Place: read by the browser's completion source (`editor/web/src/completion.js`). The
schema part comes from `ivr.flowlang.schemas.flow_schema()`, the same JSON Schema the
checker validates with: the top-level keys, every node kind with its keys, what kind of
value each key takes (`edge` for a node id, `expression`, `prompt`, ...) and its
description. The project part names what a flow can refer to: its node ids and variables,
the service's operations (with parameters), queues, calendars and channels, the other
flows, the languages, and the expression functions and prompt formatters.
"""

from __future__ import annotations

import functools
from typing import Any, get_args

from ivr.flowlang import ir
from ivr.flowlang.checks.variables import BUILTINS
from ivr.flowlang.expressions import FORMATTERS, FUNCTIONS
from ivr.flowlang.ir import Flow, Project
from ivr.flowlang.schemas import flow_schema

# Keys whose value names something the project declares, whatever the schema's type.
NAMED_VALUES = {
    "operation": "operations",
    "flow": "flows",
    "queue": "queues",
    "calendar": "calendars",
    "channel": "channels",
    "language": "languages",
    "into": "variables",
}


@functools.cache
def schema_vocabulary() -> dict[str, Any]:
    """Keys and value kinds from the flow schema (the same for every flow)."""
    schema = flow_schema()
    definitions: dict[str, Any] = schema["definitions"]
    kinds = {}
    for name in definitions["node"]["properties"]["type"]["enum"]:
        node = definitions[f"node_{name}"]
        keys = {
            key: _key(key, spec, definitions) for key, spec in node["properties"].items() if key != "type"
        }
        kinds[name] = {"doc": _kind_doc(name), "keys": keys, "required": node.get("required", [])}
    return {
        "top": {key: _key(key, spec, definitions) for key, spec in schema["properties"].items()},
        "kinds": kinds,
        "declaration": {
            key: _key(key, spec, definitions)
            for key, spec in definitions["declaration"]["properties"].items()
        },
        "types": definitions["declaration"]["properties"]["type"]["enum"],
        "case": {
            "if": _key("if", {"$ref": "#/definitions/expression"}, definitions),
            "next": _edge(definitions),
        },
        "functions": {
            name: {"doc": spec.doc, "args": _arity(spec.min_args, spec.max_args)}
            for name, spec in FUNCTIONS.items()
        },
        "formatters": {name: {"doc": spec.doc} for name, spec in FORMATTERS.items()},
        "builtins": sorted(BUILTINS),
    }


def _key(key: str, spec: dict[str, Any], definitions: dict[str, Any]) -> dict[str, str]:
    ref = str(spec.get("$ref", "")).rsplit("/", 1)[-1]
    value = NAMED_VALUES.get(key) or ref or _plain_type(spec, key)
    doc = spec.get("description") or definitions.get(ref, {}).get("description") or ""
    return {"value": value, "doc": str(doc)}


def _plain_type(spec: dict[str, Any], key: str) -> str:
    kind = spec.get("type")
    if key == "cases":
        return "cases"
    if key == "options":
        return "options"
    if isinstance(spec.get("additionalProperties"), dict) and "edge" in str(spec["additionalProperties"]):
        return "edges"  # `outcomes:` maps names to node ids
    return str(kind) if isinstance(kind, str) else "any"


def _edge(definitions: dict[str, Any]) -> dict[str, str]:
    return {"value": "edge", "doc": str(definitions["edge"]["description"])}


def _arity(low: int, high: int) -> str:
    return str(low) if low == high else f"{low}-{high}" if high < 99 else f"{low}+"


def _kind_doc(kind: str) -> str:
    """The first sentence of the node class's docstring (`Menu` for `menu`)."""
    classes = {cls.__name__.lower(): cls for cls in get_args(ir.Node)}
    cls = classes.get(kind)
    doc = " ".join((cls.__doc__ or "").split()) if cls is not None else ""
    return doc


def project_vocabulary(project: Project, flow: Flow | None) -> dict[str, Any]:
    """Names the buffer's flow can refer to (empty lists where the project has none)."""
    service = project.service
    variables: dict[str, str] = {}
    if flow is not None:
        for decl in (*flow.inputs, *flow.outputs, *flow.variables):
            variables[decl.name] = decl.description or decl.type
    return {
        "nodes": {n.id: n.kind for n in flow.nodes.values()} if flow else {},
        "variables": variables,
        "operations": ({name: list(op.params) for name, op in service.operations.items()} if service else {}),
        "flows": sorted(project.flows),
        "queues": sorted(service.queues) if service else [],
        "calendars": sorted(service.calendars) if service else [],
        "channels": sorted(service.channels) if service else [],
        "languages": list(flow.languages) if flow else list(service.languages if service else ()),
    }
