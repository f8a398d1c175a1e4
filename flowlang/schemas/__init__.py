"""The JSON Schemas of flow, service and hosting files, generated here and shipped as JSON.

Stage 2 of the pipeline (YAML -> *schema* -> IR -> checks). `flow_schema()` and
`service_schema()` build draft-07 schemas; the same JSON is written to `schema/*.json` (for
the yaml-language-server `$schema` modeline) and next to this module (so installs have it).
`ivr.flowlang.validation` validates with them and turns jsonschema errors into diagnostics; the
`$comment` of a definition names the kind of value ("duration", "dtmf_key", ...) so those
messages can teach. Regenerate both copies with `python -m ivr.flowlang.schemas`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ivr.flowlang.ir import NODE_KINDS
from ivr.flowlang.schemas import outbound

Schema = dict[str, Any]

HERE = Path(__file__).resolve().parent

IDENTIFIER = "^[A-Za-z_][A-Za-z0-9_]*$"
NODE_ID = "^[A-Za-z_][A-Za-z0-9_-]*$"
DURATION = "^[0-9]+(\\.[0-9]+)?(ms|s|m)$"
TYPES = ["string", "number", "boolean", "list", "map", "any"]
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def ref(name: str) -> Schema:
    return {"$ref": f"#/definitions/{name}"}


def _definitions() -> Schema:
    return {
        "duration": {
            "$comment": "duration",
            "description": "A duration: 5s, 500ms, 2m or a plain number of seconds.",
            "type": ["number", "string"],
            "minimum": 0,
            "pattern": DURATION,
        },
        "dtmf_key": {
            "$comment": "dtmf_key",
            "description": "One telephone key: 0-9, * or #.",
            "type": ["string", "integer"],
            "enum": [*"0123456789*#", *range(10)],
        },
        "optional_key": {
            "$comment": "dtmf_key",
            "description": "One telephone key (0-9, * or #), or false for none.",
            "type": ["string", "integer", "boolean"],
            "enum": [False, *"0123456789*#", *range(10)],
        },
        "edge": {
            "$comment": "edge",
            "description": "The id of another node of this flow.",
            "type": "string",
            "pattern": NODE_ID,
        },
        "expression": {
            "$comment": "expression",
            "description": "An expression; a literal string needs inner quotes: \"'text'\".",
            "type": ["string", "number", "boolean"],
        },
        "template": {
            "$comment": "template",
            "description": "Text with {expression} or {expression|formatter} holes.",
            "type": "string",
        },
        "prompt_text": {
            "$comment": "prompt_text",
            "description": (
                "Text to speak, or {audio: file, text: fallback text, chat: text a web chat shows}."
            ),
            "type": ["string", "object"],
            "properties": {
                "audio": {"type": "string", "minLength": 1},
                "text": ref("template"),
                "chat": ref("template"),
            },
            "additionalProperties": False,
            "minProperties": 1,
        },
        "prompt": {
            "$comment": "prompt",
            "description": "Text per language ({zh: ..., en: ...}); plain text if the flow has one language.",
            "type": ["string", "object"],
            "additionalProperties": ref("prompt_text"),
            "minProperties": 1,
        },
        "arguments": {
            "$comment": "arguments",
            "description": "name: expression pairs.",
            "type": "object",
            "propertyNames": ref("identifier"),
            "additionalProperties": ref("expression"),
        },
        "identifier": {
            "$comment": "identifier",
            "type": "string",
            "pattern": IDENTIFIER,
        },
        "declaration": {
            "$comment": "declaration",
            "description": "A declared input, output or variable.",
            "type": "object",
            "properties": {
                "type": {"enum": TYPES},
                "secret": {"type": "boolean"},
                "initial": {},
                "required": {"type": "boolean"},
                "description": {"type": "string"},
            },
            "additionalProperties": False,
        },
        "declarations": {
            "type": "object",
            "propertyNames": ref("identifier"),
            "additionalProperties": ref("declaration"),
        },
        "count": {"type": "integer", "minimum": 0},
        "global_key": {
            "$comment": "global_key",
            "description": (
                'A key that works in every menu, collect and confirm: {key: "0", goto: node}, '
                '{key: "*", action: back}, {key: "#", action: repeat}; false turns an inherited one off.'
            ),
            "type": ["object", "boolean"],
            "properties": {
                "key": {"$ref": "#/definitions/dtmf_key"},
                "action": {"enum": ["back", "repeat"]},
                "goto": {"$ref": "#/definitions/edge"},
                "description": {"type": "string"},
            },
            "additionalProperties": False,
        },
        "global_keys": {
            "description": "Global keys by name (docs/language.md, 'Global keys').",
            "type": "object",
            "propertyNames": {"$ref": "#/definitions/identifier"},
            "additionalProperties": {"$ref": "#/definitions/global_key"},
        },
        "languages": {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "minItems": 1,
            "uniqueItems": True,
        },
    }


def _node(required: list[str], **properties: Schema) -> Schema:
    return {
        "type": "object",
        "required": ["type", *required],
        "properties": {"type": {"const": ""}, "description": {"type": "string"}, **properties},
        "additionalProperties": False,
    }


def _retries() -> dict[str, Schema]:
    return {"max_retries": ref("count"), "retry_prompt": ref("prompt"), "no_input_prompt": ref("prompt")}


def _send(edge: Schema, prompt: Schema, duration: Schema, expr: Schema) -> Schema:
    """A send node; `wait` and `on_pending` come together (what to do when no answer came)."""
    schema = _node(
        ["channel", "to"],
        channel=ref("identifier"),
        to=expr,
        message=prompt,
        document=expr,
        wait=duration,
        next=edge,
        on_pending=edge,
        on_error=edge,
    )
    schema["allOf"] = [
        {"if": {"required": [a]}, "then": {"required": [b]}}
        for a, b in (("wait", "on_pending"), ("on_pending", "wait"))
    ]
    return schema


def _node_kinds() -> dict[str, Schema]:
    edge, prompt, duration, expr = ref("edge"), ref("prompt"), ref("duration"), ref("expression")
    args, boolean, count = ref("arguments"), {"type": "boolean"}, ref("count")
    return {
        "say": _node(["prompt"], prompt=prompt, barge_in=boolean, next=edge),
        "menu": _node(
            ["prompt", "options"],
            prompt=prompt,
            options={
                "$comment": "options",
                "type": "object",
                "propertyNames": ref("dtmf_key"),
                "additionalProperties": edge,
                "minProperties": 1,
            },
            no_match_prompt=prompt,
            timeout=duration,
            barge_in=boolean,
            on_no_input=edge,
            on_no_match=edge,
            global_keys=ref("global_keys"),
            **_retries(),
        ),
        "collect": _node(
            ["prompt", "into"],
            prompt=prompt,
            into=ref("identifier"),
            min_length=count,
            max_length={"type": "integer", "minimum": 1},
            terminator=ref("optional_key"),
            first_digit_timeout=duration,
            inter_digit_timeout=duration,
            overall_timeout=duration,
            star_decimal=boolean,
            valid=expr,
            invalid_prompt=prompt,
            barge_in=boolean,
            next=edge,
            on_no_input=edge,
            on_invalid=edge,
            global_keys=ref("global_keys"),
            **_retries(),
        ),
        "confirm": _node(
            ["prompt"],
            prompt=prompt,
            confirm_key=ref("dtmf_key"),
            reenter_key=ref("dtmf_key"),
            cancel_key=ref("dtmf_key"),
            timeout=duration,
            no_match_prompt=prompt,
            next=edge,
            on_reenter=edge,
            on_cancel=edge,
            on_no_input=edge,
            global_keys=ref("global_keys"),
            **_retries(),
        ),
        "branch": _node(
            ["cases"],
            cases={
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["if", "next"],
                    "properties": {"if": expr, "next": edge},
                    "additionalProperties": False,
                },
            },
            **{"else": edge},
        ),
        "set": _node(["assign"], assign=args, next=edge),
        "lookup": _node(
            ["operation"],
            operation=ref("identifier"),
            args=args,
            assign=args,
            next=edge,
            on_error=edge,
            on_timeout=edge,
        ),
        "subflow": _node(
            ["flow"],
            flow={"type": "string", "minLength": 1},
            inputs=args,
            outputs=args,
            outcomes={"type": "object", "propertyNames": ref("identifier"), "additionalProperties": edge},
            next=edge,
            on_error=edge,
        ),
        "return": _node([], outcome=ref("identifier"), outputs=args),
        "enqueue": _node(
            ["queue"],
            queue=ref("identifier"),
            skills={"type": "array", "items": {"type": "string"}},
            priority=expr,
            data=args,
            max_wait=duration,
            next=edge,
            on_timeout=edge,
            on_overflow=edge,
            on_no_agents=edge,
            callback={
                "description": (
                    'Offer "press key to be called back" once the wait passes `after`: '
                    "the caller keeps their place and is called when an agent is about to be free."
                ),
                "type": "object",
                "properties": {
                    "key": ref("dtmf_key"),
                    "after": duration,
                    "prompt": prompt,
                    "confirm": prompt,
                },
                "additionalProperties": False,
            },
        ),
        "transfer": _node(
            ["to"],
            to=expr,
            mode={"enum": ["bridge", "blind"]},
            data=args,
            timeout=duration,
            next=edge,
            on_failed=edge,
        ),
        "record": _node(
            ["into"],
            prompt=prompt,
            into=ref("identifier"),
            max_length=duration,
            beep=boolean,
            stop_key=ref("optional_key"),
            metadata=args,
            next=edge,
            on_no_input=edge,
            on_chat=edge,
        ),
        "send": _send(edge, prompt, duration, expr),
        "schedule": _node(["calendar"], calendar=ref("identifier"), open=edge, closed=edge, holiday=edge),
        "language": _node(["language"], language={"type": "string", "minLength": 1}, next=edge),
        "log": _node(["message"], message=ref("template"), next=edge),
        "hangup": _node([], prompt=prompt),
    }


def flow_schema() -> Schema:
    """The schema of a flow file (top-level `flow:`)."""
    definitions = _definitions()
    kinds = _node_kinds()
    assert tuple(kinds) == NODE_KINDS, "every node kind of the IR needs a schema"
    for kind, schema in kinds.items():
        schema["properties"]["type"] = {"const": kind}
        schema["description"] = f"A `{kind}` node (see docs/language.md)."
        definitions[f"node_{kind}"] = schema
    definitions["node"] = {
        "$comment": "node",
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"$comment": "node_type", "enum": list(NODE_KINDS)}},
        "allOf": [
            {"if": {"properties": {"type": {"const": k}}, "required": ["type"]}, "then": ref(f"node_{k}")}
            for k in NODE_KINDS
        ],
    }
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://ivr-flowlang.invalid/schema/flow.schema.json",
        "title": "IVR flow",
        "description": "One call flow: declarations and nodes keyed by id (docs/language.md).",
        "type": "object",
        "required": ["flow", "languages", "start", "nodes"],
        "properties": {
            "flow": ref("identifier"),
            "description": {"type": "string"},
            "languages": ref("languages"),
            "inputs": ref("declarations"),
            "outputs": ref("declarations"),
            "variables": ref("declarations"),
            "outbound": outbound.flow_section(),
            "start": ref("edge"),
            "global_keys": ref("global_keys"),
            "context": {
                "description": "What an agent is shown if the caller reaches one: name: expression, "
                "or {value: expression, label: {zh: ..., en: ...}}. Never a secret.",
                "type": "object",
                "propertyNames": ref("identifier"),
                "additionalProperties": {
                    "$comment": "context_field",
                    "type": ["string", "number", "boolean", "object"],
                    "required": ["value"],
                    "properties": {
                        "value": ref("expression"),
                        "label": {
                            "type": "object",
                            "additionalProperties": {"type": "string", "minLength": 1},
                        },
                    },
                    "additionalProperties": False,
                },
            },
            "nodes": {
                "type": "object",
                "propertyNames": {"$comment": "node_id", "type": "string", "pattern": NODE_ID},
                "additionalProperties": ref("node"),
                "minProperties": 1,
            },
        },
        "additionalProperties": False,
        "definitions": definitions,
    }


PYTHON_FUNCTION = "^[A-Za-z_][\\w.]*:[A-Za-z_]\\w*$"
MODULE_REFERENCE = "^(([A-Za-z_][\\w.-]*)(:[A-Za-z_][\\w.]*)?|[\\w./-]+\\.py)$"


def _operation() -> Schema:
    backends = {"module": [], "python": ["function"], "sql": ["query"], "http": ["url"]}
    function_of = {"module": ref("identifier"), "python": {"pattern": PYTHON_FUNCTION}}
    return {
        "$comment": "operation",
        "type": "object",
        "required": ["backend"],
        "properties": {
            "backend": {"enum": list(backends)},
            "description": {"type": "string"},
            "function": {"type": "string", "minLength": 1},
            "query": {
                "oneOf": [
                    {"type": "string", "minLength": 1},
                    {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
                ]
            },
            "database": {"type": "string", "minLength": 1},
            "one": {"type": "boolean"},
            "idempotency_key": ref("identifier"),
            "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE"]},
            "url": {"type": "string", "minLength": 1},
            "headers": {"type": "object", "additionalProperties": {"type": "string"}},
            "params": {"type": "array", "items": ref("identifier"), "uniqueItems": True},
            "returns": {"type": "array", "items": ref("identifier"), "uniqueItems": True},
            "timeout": ref("duration"),
            "retries": ref("count"),
        },
        "additionalProperties": False,
        "allOf": [
            {
                "if": {"properties": {"backend": {"const": b}}, "required": ["backend"]},
                "then": {"required": r}
                | ({"properties": {"function": function_of[b]}} if b in function_of else {}),
            }
            for b, r in backends.items()
        ],
    }


def _calendar() -> Schema:
    clock = {"type": "string", "pattern": "^([01][0-9]|2[0-4]):[0-5][0-9]$"}
    period = {"type": "array", "items": clock, "minItems": 2, "maxItems": 2}
    return {
        "type": "object",
        "required": ["timezone"],
        "properties": {
            "timezone": {"type": "string", "minLength": 1},
            "hours": {
                "type": "object",
                "propertyNames": {"enum": WEEKDAYS},
                "additionalProperties": {"type": "array", "items": period},
            },
            "holidays": {
                "type": "array",
                "items": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
            },
        },
        "additionalProperties": False,
    }


ENV_REFERENCE = "^\\$\\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\\}$"


def _channel_definitions() -> dict[str, Schema]:
    """A message channel and its gateway: SMTP for e-mail and fax-by-e-mail, an HTTP SMS
    gateway for SMS (docs/channels.md). Text settings may hold `${VARIABLE}` references."""
    text = {"type": "string", "minLength": 1}
    env_ref = {"type": "string", "pattern": ENV_REFERENCE}
    headers = {"type": "object", "additionalProperties": {"type": "string"}}
    return {
        "setting_port": {
            "$comment": "setting",
            "description": "a port number (1-65535) or a ${VARIABLE} reference",
            "oneOf": [{"type": "integer", "minimum": 1, "maximum": 65535}, env_ref],
        },
        "setting_security": {
            "$comment": "setting",
            "description": "none, starttls or tls, or a ${VARIABLE} reference",
            "oneOf": [{"enum": ["none", "starttls", "tls"]}, env_ref],
        },
        "smtp": {
            "type": "object",
            "required": ["host"],
            "properties": {
                "host": text,
                "port": ref("setting_port"),
                "security": ref("setting_security"),
                "username": {"type": "string"},
                "password": {"type": "string"},
                "ca_file": text,
                "helo": text,
            },
            "additionalProperties": False,
        },
        "sms_http": {
            "type": "object",
            "required": ["url"],
            "properties": {
                "url": text,
                "style": {"enum": ["json", "form", "query"]},
                "username": {"type": "string"},
                "password": {"type": "string"},
                "token": {"type": "string"},
                "headers": headers,
                "fields": {
                    "type": "object",
                    "propertyNames": {"enum": ["to", "text", "sender", "reference"]},
                    "additionalProperties": {"type": ["string", "null"]},
                },
                "params": {
                    "type": "object",
                    "additionalProperties": {"type": ["string", "number", "boolean"]},
                },
                "success": {
                    "type": "object",
                    "properties": {
                        "json_field": text,
                        "equals": {"type": ["string", "number", "boolean"]},
                        "body": {"type": "string"},
                    },
                    "additionalProperties": False,
                },
                "id_field": text,
            },
            "additionalProperties": False,
        },
        "retry": {
            "type": "object",
            "properties": {
                "attempts": {"type": "integer", "minimum": 1, "maximum": 100},
                "backoff": ref("duration"),
                "max_backoff": ref("duration"),
            },
            "additionalProperties": False,
        },
        "channel": {
            "$comment": "channel",
            "type": "object",
            "required": ["kind"],
            "properties": {
                "kind": {"enum": ["sms", "email", "fax"]},
                "description": {"type": "string"},
                "from": text,
                "smtp": ref("smtp"),
                "fax_address": text,
                "subject": text,
                "http": ref("sms_http"),
                "retry": ref("retry"),
                "timeout": ref("duration"),
                "dedupe": {"type": "boolean"},
                "concurrency": {"type": "integer", "minimum": 1, "maximum": 16},
                "inbound": ref("sms_inbound"),
            },
            "additionalProperties": False,
        },
        **_sms_inbound_definitions(),
    }


def _sms_inbound_definitions() -> dict[str, Schema]:
    """An SMS channel's webhooks: texts that come in (a keyword table: a flow, the
    do-not-call list, or a fixed reply) and delivery receipts (docs/channels.md)."""
    text = {"type": "string", "minLength": 1}
    names = {"type": "object", "additionalProperties": text}
    return {
        "sms_inbound": {
            "type": "object",
            "required": ["secret"],
            "properties": {
                "style": {"enum": ["json", "form", "query"]},
                "secret": {"type": "string"},
                "signature": {"enum": ["none", "hmac-sha256"]},
                "signature_header": text,
                "fields": {**names, "propertyNames": {"enum": ["from", "text", "id"]}},
                "receipt": {
                    "type": "object",
                    "properties": {
                        "fields": {**names, "propertyNames": {"enum": ["id", "status", "reason"]}},
                        "delivered": {"type": "array", "items": text, "minItems": 1},
                        "failed": {"type": "array", "items": text, "minItems": 1},
                    },
                    "additionalProperties": False,
                },
                "keywords": {
                    "type": "object",
                    "propertyNames": {"type": "string", "pattern": "^\\S+$"},
                    "additionalProperties": ref("sms_keyword"),
                },
                "help": text,
            },
            "additionalProperties": False,
        },
        "sms_keyword": {
            "type": "object",
            "description": "A text command: run a flow (its inputs from the words after the keyword), "
            "put the sender on the do-not-call list, or answer a fixed reply.",
            "properties": {
                "flow": ref("identifier"),
                "args": {"type": "array", "items": ref("identifier")},
                "do_not_call": {"const": True},
                "reply": text,
            },
            "oneOf": [
                {
                    "required": ["flow"],
                    "not": {"anyOf": [{"required": [n]} for n in ("do_not_call", "reply")]},
                },
                {"required": ["reply"]},
            ],
            "additionalProperties": False,
        },
    }


def _agent_flow() -> Schema:
    """An entry of `agent_flows:` (keyed by the flow's name): what the desktop calls it and
    how it words each outcome, per language."""
    words: Schema = {
        "type": "object",
        "propertyNames": {"type": "string", "minLength": 1},
        "additionalProperties": {"type": "string", "minLength": 1},
        "minProperties": 1,
    }
    return {
        "type": "object",
        "description": "A flow an agent may send the caller into; the call comes back with its outcome.",
        "required": ["label"],
        "properties": {
            "label": words,
            "outcomes": {"type": "object", "propertyNames": ref("identifier"), "additionalProperties": words},
            "description": {"type": "string"},
        },
        "additionalProperties": False,
    }


def service_schema() -> Schema:
    """The schema of the service file (top-level `service:`)."""
    definitions = _definitions()
    definitions["operation"] = _operation()
    definitions["calendar"] = _calendar()
    definitions.update(_channel_definitions())
    definitions.update(outbound.definitions())

    def named(item: Schema) -> Schema:
        return {"type": "object", "propertyNames": ref("identifier"), "additionalProperties": item}

    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://ivr-flowlang.invalid/schema/service.schema.json",
        "title": "IVR service",
        "description": (
            "Operations, queues, calendars, channels and numbers that flows use, "
            "and the flows agents may send callers into."
        ),
        "type": "object",
        "required": ["service"],
        "properties": {
            "service": ref("identifier"),
            "description": {"type": "string"},
            "module": {
                "$comment": "module",
                "description": "The Python module of `backend: module` operations and lifecycle hooks: "
                "an entry point of the group ivr.modules, package.module:attribute, or a file such as "
                "module.py beside this file.",
                "type": "string",
                "pattern": MODULE_REFERENCE,
            },
            "languages": ref("languages"),
            "numbers": {
                "type": "object",
                "propertyNames": {"type": "string", "pattern": "^\\+?[0-9*#]+$"},
                "additionalProperties": ref("identifier"),
            },
            "operations": named(ref("operation")),
            "queues": named(
                {
                    "type": "object",
                    "properties": {
                        "skills": {"type": "array", "items": {"type": "string"}},
                        "description": {"type": "string"},
                    },
                    "additionalProperties": False,
                }
            ),
            "calendars": named(ref("calendar")),
            "global_keys": ref("global_keys"),
            "channels": named(ref("channel")),
            "agent_flows": named(_agent_flow()),
            "trunks": named(ref("trunk")),
            "campaigns": named(ref("campaign")),
        },
        "additionalProperties": False,
        "definitions": definitions,
    }


def dumps(schema: Schema) -> str:
    """The exact text of a schema file (stable, so the copies can be compared)."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def generated() -> dict[str, str]:
    """File name -> text, for every schema file."""
    from ivr.flowlang.schemas.hosting import hosting_schema

    return {
        "flow.schema.json": dumps(flow_schema()),
        "service.schema.json": dumps(service_schema()),
        "hosting.schema.json": dumps(hosting_schema()),
    }


def write(targets: tuple[Path, ...]) -> None:
    for directory in targets:
        for name, text in generated().items():
            (directory / name).write_text(text, encoding="utf-8")
