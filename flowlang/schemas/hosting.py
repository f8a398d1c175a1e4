"""The JSON Schema of the hosting file (`hosting.yaml`: top-level `hosting:`).

Generated like the flow and service schemas (`python -m ivr.flowlang.schemas` writes both
copies); `ivr.flowlang.hostingfile` validates with it. The rules the schema cannot say
well (a tenant is a folder *or* a package, a number belongs to one tenant, a known time
zone) are FL8xx checks in `ivr.flowlang.hostingfile`.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

TENANT_NAME = "^[a-z][a-z0-9_-]{0,31}$"
NUMBER = "^\\+?[0-9*#]+$"
SHA256 = "^[0-9a-f]{64}$"
ENTRY_POINT = "^[A-Za-z_][\\w.-]*$"


def _token() -> Schema:
    return {
        "$comment": "token_sha256",
        "description": "The SHA-256 (64 hex digits) of an API token; the token itself is never stored.",
        "type": "string",
        "pattern": SHA256,
    }


def _tenant() -> Schema:
    count = {"type": "integer", "minimum": 0}
    return {
        "$comment": "tenant",
        "description": "One tenant: a folder of flows or an installed module, its numbers and seats.",
        "type": "object",
        "required": ["numbers"],
        "properties": {
            "description": {"type": "string"},
            "folder": {
                "description": "A folder with the tenant's flows and service.yaml (relative to this file).",
                "type": "string",
                "minLength": 1,
            },
            "package": {
                "description": "An installed module: its entry point name in the group ivr.modules.",
                "type": "string",
                "pattern": ENTRY_POINT,
            },
            "numbers": {
                "description": "The dialed numbers leased to the tenant (its service routes them to flows).",
                "type": "array",
                "items": {"type": "string", "pattern": NUMBER},
                "minItems": 1,
                "uniqueItems": True,
            },
            "seats": {
                "description": "The seat quota: calls at once, agents logged in at once, and extra "
                "calls that may hear the overflow flow.",
                "type": "object",
                "properties": {
                    "calls": {"type": "integer", "minimum": 1},
                    "agents": count,
                    "overflow": count,
                },
                "additionalProperties": False,
            },
            "overflow_flow": {
                "description": "The tenant's flow for calls beyond its quota (else they get 503).",
                "type": "string",
                "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
            },
            "agents": {"description": "The tenant's agents file (relative to this file).", "type": "string"},
            "token_sha256": _token(),
            "settings": {
                "description": "Given to the tenant's module as ctx.settings.",
                "type": "object",
            },
        },
        "additionalProperties": False,
    }


def hosting_schema() -> Schema:
    """The schema of the hosting file."""
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://ivr-flowlang.invalid/schema/hosting.schema.json",
        "title": "IVR hosting",
        "description": "The tenants one `ivr serve` hosts: flows or modules, numbers, seats, tokens.",
        "type": "object",
        "required": ["hosting", "tenants"],
        "properties": {
            "hosting": {"type": "string", "minLength": 1},
            "description": {"type": "string"},
            "timezone": {
                "description": "The time zone whose days the usage report counts (default UTC).",
                "type": "string",
                "minLength": 1,
            },
            "database": {
                "description": "The store several instances share (docs/cluster.md): PostgreSQL at "
                "`url`, written without its password (PGPASSWORD or ~/.pgpass give it).",
                "type": "object",
                "properties": {
                    "url": {
                        "description": "postgresql://user@host:port/name",
                        "type": "string",
                        "pattern": "^postgres(ql)?://",
                    }
                },
                "required": ["url"],
                "additionalProperties": False,
            },
            "operator": {
                "type": "object",
                "properties": {"token_sha256": _token()},
                "additionalProperties": False,
            },
            "tenants": {
                "type": "object",
                "propertyNames": {"$comment": "tenant_name", "type": "string", "pattern": TENANT_NAME},
                "additionalProperties": _tenant(),
                "minProperties": 1,
            },
        },
        "additionalProperties": False,
    }
