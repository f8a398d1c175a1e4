"""The schema parts for outbound calling: trunks and campaigns in the service file, the
`outbound:` section of a flow (docs/outbound.md).

Kept beside the main generator (`ivr.flowlang.schemas`) so that the service and flow
schemas only add a few references; the same `$comment` kinds teach in messages.
"""

from __future__ import annotations

from typing import Any

from ivr.flowlang.ir import RETRY_OUTCOMES

Schema = dict[str, Any]

DELAY = "^[0-9]+(\\.[0-9]+)?(ms|s|m|h|d)$"
# host or host:port, an IPv4 address or a DNS name, optionally written as a sip: URI
GATEWAY = "^(sip:)?([A-Za-z0-9_.-]+|\\[[0-9A-Fa-f:.]+\\])(:[0-9]{1,5})?$"
CALLER_ID = "^\\+?[0-9]{1,20}$"
ENV_NAME = "^[A-Za-z_][A-Za-z0-9_]*$"


def _ref(name: str) -> Schema:
    return {"$ref": f"#/definitions/{name}"}


def definitions() -> dict[str, Schema]:
    """Definitions the service schema adds: `delay`, `trunk`, `campaign`."""
    return {
        "delay": {
            "$comment": "delay",
            "description": "A delay: 30s, 10m, 2h, 1d or a plain number of seconds.",
            "type": ["number", "string"],
            "minimum": 0,
            "pattern": DELAY,
        },
        "trunk": trunk(),
        "campaign": campaign(),
    }


def trunk() -> Schema:
    auth = {
        "type": "object",
        "required": ["username", "password_env"],
        "properties": {
            "username": {"type": "string", "minLength": 1},
            "password_env": {
                "type": "string",
                "pattern": ENV_NAME,
                "description": "The environment variable holding the password (never the password).",
            },
            "realm": {"type": "string", "minLength": 1},
        },
        "additionalProperties": False,
    }
    register = {
        "type": ["boolean", "object"],
        "properties": {"expires": _ref("duration")},
        "additionalProperties": False,
    }
    return {
        "$comment": "trunk",
        "description": "A SIP trunk: where outbound calls go, how many channels, which caller ID.",
        "type": "object",
        "required": ["gateway", "channels"],
        "properties": {
            "gateway": {"type": "string", "pattern": GATEWAY},
            "transport": {"enum": ["udp", "tcp"]},
            "channels": {"type": "integer", "minimum": 1},
            "reserve": {"type": "integer", "minimum": 0},
            "caller_id": {"type": ["string", "integer"], "pattern": CALLER_ID},
            "auth": auth,
            "register": register,
            "description": {"type": "string"},
        },
        "additionalProperties": False,
    }


def campaign() -> Schema:
    retry = {
        "type": "object",
        "required": ["times"],
        "properties": {"after": _ref("delay"), "times": _ref("count")},
        "additionalProperties": False,
    }
    contacts = {
        "type": "object",
        "properties": {
            "csv": {"type": "string", "minLength": 1},
            "query": {"type": "string", "minLength": 1},
            "database": {"type": "string", "minLength": 1},
            "number": _ref("identifier"),
            "timezone": _ref("identifier"),
            "key": _ref("identifier"),
            "follow": _ref("delay"),
        },
        "additionalProperties": False,
    }
    sms_fallback = {
        "type": "object",
        "required": ["channel", "text"],
        "properties": {"channel": _ref("identifier"), "text": _ref("identifier")},
        "additionalProperties": False,
    }
    pacing = {
        "type": "object",
        "properties": {
            "max_concurrent": {"type": "integer", "minimum": 1},
            "calls_per_second": {"type": "number", "exclusiveMinimum": 0},
        },
        "additionalProperties": False,
    }
    return {
        "$comment": "campaign",
        "description": "An outbound campaign: contacts, calling window, pacing, retries (docs/outbound.md).",
        "type": "object",
        "required": ["flow", "trunk", "contacts"],
        "properties": {
            "flow": _ref("identifier"),
            "trunk": _ref("identifier"),
            "contacts": contacts,
            "window": {
                "type": "object",
                "properties": {
                    "calendar": _ref("identifier"),
                    "timezone": {"type": "string", "minLength": 1},
                },
                "additionalProperties": False,
            },
            "pacing": pacing,
            "ring_timeout": _ref("duration"),
            "retries": {
                "type": "object",
                "propertyNames": {"enum": list(RETRY_OUTCOMES)},
                "additionalProperties": retry,
            },
            "machine": {"enum": ["leave_message", "hang_up"]},
            "detect_machines": {"type": "boolean"},
            "sms_fallback": sms_fallback,
            "description": {"type": "string"},
        },
        "additionalProperties": False,
    }


def flow_section() -> Schema:
    """A flow's `outbound:` section."""
    return {
        "$comment": "outbound",
        "description": "This flow runs on outbound calls: the contact fields it reads, its dispositions.",
        "type": "object",
        "properties": {
            "contact": _ref("declarations"),
            "dispositions": {"type": "array", "items": _ref("identifier"), "uniqueItems": True},
            "description": {"type": "string"},
        },
        "additionalProperties": False,
    }
