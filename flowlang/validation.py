"""Shape validation: stage 2 of flowlang (YAML data -> *shape checked* -> IR -> checks).

The draft-07 schemas in `ivr.flowlang.schemas` are the single truth for the shape of flow and
service files: editors use them through the `$schema` modeline, and this module runs them
with jsonschema's `iter_errors`, collecting every error. Raw jsonschema text is never shown:
each error becomes an FL1xx `Diagnostic` positioned with the source map (the error's
`absolute_path`), worded for flow authors and with a did-you-mean hint where a name is
involved. The `$comment` of a schema definition tells which kind of value failed.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from importlib import resources
from typing import Any

import fastjsonschema
import jsonschema  # type: ignore[import-untyped]

from ivr.flowlang.diagnostics import Diagnostic, Severity, Span, did_you_mean
from ivr.flowlang.ir import NODE_KINDS
from ivr.flowlang.suggestions import field_hint, node_type_hint
from ivr.flowlang.yamlerrors import misread_value
from ivr.flowlang.yamlsource import SourceMap, YamlPath

YAML11_BOOLEANS = {"yes": "true", "no": "false", "on": "true", "off": "false", "y": "true", "n": "false"}

_EXPECTED = {
    "boolean": "true or false",
    "string": "text",
    "number": "a number",
    "integer": "a whole number",
    "object": "a mapping (name: value pairs)",
    "array": "a list",
    "null": "nothing",
}
_KIND_EXPECTED = {
    "duration": "a duration such as 5s, 500ms or 2m",
    "delay": "a delay such as 30s, 10m, 2h or 1d",
    "dtmf_key": "a telephone key (0-9, * or #)",
    "edge": "the id of a node",
    "expression": "an expression",
    "template": "text (a template)",
    "prompt": "a prompt: text per language, e.g. {en: Hello}",
    "prompt_text": "text, or {audio: file.wav, text: ...}",
    "identifier": "a name",
    "node": "a node: a mapping with a `type`",
    "options": 'a mapping of keys to node ids, e.g. {"1": quotes}',
    "arguments": "a mapping of names to expressions",
    "declaration": "a mapping such as {type: string}",
}


@functools.cache
def _validator(name: str) -> Any:
    text = resources.files("ivr.flowlang.schemas").joinpath(name).read_text(encoding="utf-8")
    schema = json.loads(text)
    return jsonschema.Draft7Validator(schema, format_checker=None)


def flow_schema_json() -> dict[str, Any]:
    """The packaged flow schema (the same JSON editors read)."""
    schema: dict[str, Any] = _validator("flow.schema.json").schema
    return schema


@functools.cache
def _node_validators() -> tuple[Any, dict[str, Any]]:
    """The flow schema without the node `allOf` (which tries all 17 kinds on every node),
    and one validator per kind: the same rules, applied to each node by its `type`."""
    schema = copy.deepcopy(flow_schema_json())
    definitions = schema["definitions"]
    definitions["node"] = {k: v for k, v in definitions["node"].items() if k != "allOf"}
    kinds = {
        kind: jsonschema.Draft7Validator(_inline_refs(definitions[f"node_{kind}"], definitions))
        for kind in NODE_KINDS
    }
    return jsonschema.Draft7Validator(schema), kinds


def _inline_refs(schema: Any, definitions: dict[str, Any], active: frozenset[str] = frozenset()) -> Any:
    """The schema with every `#/definitions/x` reference replaced by its target: a checked
    1,000-node flow spends a third of its schema time resolving references otherwise.
    A recursive definition keeps its reference (with the definitions it needs)."""
    if isinstance(schema, list):
        return [_inline_refs(item, definitions, active) for item in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/definitions/") and len(schema) == 1:
        name = ref.removeprefix("#/definitions/")
        if name in active:
            raise ValueError(f"recursive schema definition {name}")
        return _inline_refs(definitions[name], definitions, active | {name})
    return {key: _inline_refs(value, definitions, active) for key, value in schema.items()}


@functools.cache
def _fast_validators() -> tuple[Callable[[object], object], dict[str, Callable[[object], object]]]:
    """The same schemas compiled to Python by fastjsonschema: about ten times faster on the
    valid documents that are the common case. It only answers valid or not; the error
    messages (all of them, with paths) still come from jsonschema."""
    top, kinds = _node_validators()
    return fastjsonschema.compile(top.schema), {k: fastjsonschema.compile(v.schema) for k, v in kinds.items()}


def _is_valid(fast: Callable[[object], object], value: object) -> bool:
    try:
        fast(value)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def flow_schema_errors(data: object) -> Iterator[tuple[Any, YamlPath]]:
    """jsonschema errors of a flow document, each with the path its error path is under."""
    plain = jsonable(data)
    top, kinds = _node_validators()
    fast_top, fast_kinds = _fast_validators()
    if not _is_valid(fast_top, plain):
        for error in top.iter_errors(plain):
            yield error, ()
    nodes = plain.get("nodes") if isinstance(plain, dict) else None
    for node_id, node in nodes.items() if isinstance(nodes, dict) else ():
        kind = node.get("type") if isinstance(node, dict) else None
        if isinstance(kind, str) and kind in kinds and not _is_valid(fast_kinds[kind], node):
            for error in kinds[kind].iter_errors(node):
                yield error, ("nodes", node_id)


def validate_flow(data: object, source_map: SourceMap) -> list[Diagnostic]:
    """Every shape problem of a flow document, as FL1xx diagnostics."""
    return _diagnostics(flow_schema_errors(data), data, source_map, "the flow")


def validate_service(data: object, source_map: SourceMap) -> list[Diagnostic]:
    """Every shape problem of the service document, as FL1xx diagnostics."""
    errors = ((e, ()) for e in _validator("service.schema.json").iter_errors(jsonable(data)))
    return _diagnostics(errors, data, source_map, "the service")


def validate_hosting(data: object, source_map: SourceMap) -> list[Diagnostic]:
    """Every shape problem of a hosting file, as FL1xx diagnostics."""
    errors = ((e, ()) for e in _validator("hosting.schema.json").iter_errors(jsonable(data)))
    return _diagnostics(errors, data, source_map, "the hosting file")


# Shape problems listed per document. Found by fuzzing: a file of 20,000 unknown keys took
# 15 s to check, mostly finding a "did you mean" for each; nobody reads past the first few
# hundred, so the rest are counted as one FL013 and not worked out.
MAX_SHAPE_PROBLEMS = 500


def _diagnostics(
    errors: Iterable[tuple[Any, YamlPath]], data: object, source_map: SourceMap, root: str
) -> list[Diagnostic]:
    out: dict[tuple[Span, str], Diagnostic] = {}
    for error, prefix in errors:
        for diagnostic in _translate(_Error(error, data, source_map, root, prefix)):
            if len(out) >= MAX_SHAPE_PROBLEMS:
                message = (
                    f"{root} has more than {MAX_SHAPE_PROBLEMS} problems of shape; the rest are not listed"
                )
                hint = "fix the ones listed first (the first is usually the cause of many)"
                return [*out.values(), Diagnostic("FL013", Severity.ERROR, message, diagnostic.span, hint)]
            out.setdefault((diagnostic.span, diagnostic.code), diagnostic)
    return list(out.values())


def jsonable(value: object) -> object:
    """jsonschema wants plain numbers; keep integers exact and other decimals as floats
    (only to test the shape; the compiler reads the exact Decimal from the data)."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        if value.is_finite() and abs(value) < 10**18 and value == value.to_integral_value():
            return int(value)
        return float(value)
    return value


class _Error:
    """A jsonschema error seen with the source map: where it is and what it is about."""

    def __init__(
        self, error: Any, data: object, source_map: SourceMap, root: str, prefix: YamlPath = ()
    ) -> None:
        self.error = error
        self.path: YamlPath = (*prefix, *error.absolute_path)
        self.schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
        self.kind: str = str(self.schema.get("$comment", ""))
        self.data = data
        self.map = source_map
        self.root = root
        self.property_name = "propertyNames" in error.relative_schema_path

    def diagnostic(
        self, code: str, message: str, hint: str | None, path: YamlPath | None = None
    ) -> Diagnostic:
        where = self.path if path is None else path
        span = self.map.key(where) if where else self.map.value(where)
        node_id = str(where[1]) if len(where) >= 2 and where[0] == "nodes" else None
        return Diagnostic(code, Severity.ERROR, message, span, hint, where, node_id)

    def value_diagnostic(self, code: str, message: str, hint: str | None) -> Diagnostic:
        d = self.diagnostic(code, message, hint)
        return Diagnostic(
            d.code, d.severity, d.message, self.map.value(self.path), d.hint, d.yaml_path, d.node_id
        )

    @property
    def field(self) -> str:
        names = [p for p in self.path if isinstance(p, str)]
        return names[-1] if names else self.root

    def where(self, path: YamlPath | None = None) -> str:
        return describe(self.path if path is None else path, self.data, self.root)


def describe(path: YamlPath, data: object, root: str) -> str:
    """Words for a place in a document: "node 'welcome' (say)", "variable 'pin'"..."""
    if len(path) >= 2 and path[0] == "nodes":
        node = _get(data, path[:2])
        kind = node.get("type") if isinstance(node, dict) else None
        return f"node '{path[1]}'" + (f" ({kind})" if isinstance(kind, str) else "")
    singular = {
        "inputs": "input",
        "outputs": "output",
        "variables": "variable",
        "operations": "operation",
        "queues": "queue",
        "calendars": "calendar",
        "channels": "channel",
        "trunks": "trunk",
        "campaigns": "campaign",
        "tenants": "tenant",
    }
    if len(path) >= 2 and path[0] in singular:
        return f"{singular[str(path[0])]} '{path[1]}'"
    return root


def _get(data: object, path: YamlPath) -> object:
    for part in path:
        if isinstance(data, dict) and isinstance(part, str):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data


def show(value: object) -> str:
    """A value as the author wrote it, for messages: "the text 'no'", "the number 5"."""
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text '{value}'"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _translate(e: _Error) -> Iterator[Diagnostic]:
    validator = str(e.error.validator)
    if validator == "required":
        yield from _missing(e)
    elif validator == "additionalProperties":
        yield from _unknown_fields(e)
    elif e.property_name:
        yield _bad_name(e)
    elif e.kind in _KIND_CODES:
        yield _KIND_CODES[e.kind](e)
    elif validator == "type":
        yield _wrong_type(e)
    elif validator == "enum":
        yield _not_one_of(e)
    else:
        yield _out_of_range(e, validator)


def _missing(e: _Error) -> Iterator[Diagnostic]:
    instance = e.error.instance
    for name in e.error.validator_value:
        if isinstance(instance, dict) and name not in instance:
            hint = _MISSING_HINTS.get(name, f"add `{name}: ...` (see docs/language.md)")
            yield e.diagnostic("FL101", f"{e.where()} needs the field `{name}`", hint)


_MISSING_HINTS = {
    "languages": "declare the prompt languages, e.g. `languages: [en]`",
    "start": "name the first node, e.g. `start: welcome`",
    "nodes": "add `nodes:` with one mapping per node, keyed by its id",
    "type": f"every node has a `type`: one of {', '.join(NODE_KINDS)}",
    "if": "each case is `- if: <condition>` with `next: <node>`",
    "next": "each case is `- if: <condition>` with `next: <node>`",
    "on_pending": "a send that waits needs `on_pending: <node>` for when no answer came in time",
    "wait": "`on_pending` is taken when `wait: <duration>` passes without the gateway's answer",
}


def _allowed_fields(schema: Mapping[str, Any]) -> list[str]:
    properties = schema.get("properties", {})
    return list(properties) if isinstance(properties, Mapping) else []


def _unknown_fields(e: _Error) -> Iterator[Diagnostic]:
    instance = e.error.instance
    if not isinstance(instance, dict):
        return
    allowed = _allowed_fields(e.schema)
    kind = instance.get("type") if len(e.path) == 2 and e.path[0] == "nodes" else None
    for name in instance:
        if name in allowed:
            continue
        meant = field_hint(name, kind if isinstance(kind, str) else None, allowed)
        hint = meant or ("allowed here: " + ", ".join(allowed) if allowed else None)
        owner = [k for k, fields in fields_by_kind().items() if name in fields]
        if owner and not meant:
            hint = f"`{name}` belongs to {' / '.join(owner[:3])} nodes; " + (hint or "")
        yield e.diagnostic("FL102", f"{e.where()} has an unknown field '{name}'", hint, (*e.path, name))


@functools.cache
def fields_by_kind() -> dict[str, frozenset[str]]:
    definitions = flow_schema_json()["definitions"]
    return {k: frozenset(definitions[f"node_{k}"]["properties"]) for k in NODE_KINDS}


def _expected(e: _Error) -> str:
    if e.kind in _KIND_EXPECTED:
        return _KIND_EXPECTED[e.kind]
    types = e.error.validator_value if e.error.validator == "type" else e.schema.get("type")
    if isinstance(types, str):
        types = [types]
    if not isinstance(types, list):
        return "another value"
    return " or ".join(_EXPECTED.get(t, t) for t in types)


def _type_hint(e: _Error) -> str | None:
    value = e.error.instance
    expects = e.error.validator_value
    if isinstance(value, str) and value.lower() in YAML11_BOOLEANS and "boolean" in str(expects):
        return f"YAML 1.1 '{value}' is text here; write {YAML11_BOOLEANS[value.lower()]}"
    if isinstance(value, (int, float)) and "string" in str(expects):
        return f'put it in quotes: "{value}"'
    if value is None and (" " in e.field or e.kind == "prompt_text"):
        return _comma_hint(e)
    if isinstance(value, str) and ("integer" in str(expects) or "number" in str(expects)):
        digits = NUMBER_WORDS.get(value.strip().lower())
        return f"write the number in digits: {digits}" if digits else "write the number in digits, e.g. 6"
    if value is None:
        return f"give `{e.field}` a value, or remove the line"
    return None


_NUMBER_WORDS = (
    ("zero", "零"), ("one", "一"), ("two", "二", "两"), ("three", "三"), ("four", "四"), ("five", "五"),
    ("six", "六"), ("seven", "七"), ("eight", "八"), ("nine", "九"), ("ten", "十"),
)  # fmt: skip
NUMBER_WORDS = {word: str(n) for n, words in enumerate(_NUMBER_WORDS) for word in words}


def _comma_hint(e: _Error) -> str:
    """`{zh: 你好, en: Hello, world}`: the ',' ended the text and `world` became a key."""
    parent = _get(e.data, e.path[:-1])
    keys = list(parent) if isinstance(parent, dict) else []
    at = keys.index(e.field) if e.field in keys else 0
    before = keys[at - 1] if at > 0 else None
    if before is not None and isinstance(parent, dict) and isinstance(parent[before], str):
        meant = f'{before}: "{parent[before]}, {e.field}"'
        return f"a ',' inside {{...}} ends the text; put the text in quotes: {meant}"
    return f"a ',' inside {{...}} ends the text; put the text in quotes: \"..., {e.field}\""


def _wrong_type(e: _Error) -> Diagnostic:
    types = e.error.validator_value if e.error.validator == "type" else e.schema.get("type")
    expected = tuple(types) if isinstance(types, list) else (str(types),)
    misread = misread_value(e.error.instance, expected, e.map.value(e.path), e.field)
    if misread is not None:
        d = e.diagnostic(misread.code, misread.message, misread.hint)
        return Diagnostic(d.code, d.severity, d.message, misread.span, d.hint, d.yaml_path, d.node_id)
    message = f"`{e.field}` expects {_expected(e)}, got {show(e.error.instance)}"
    if e.kind == "node":
        hint = "a node is a mapping: `welcome: {type: say, prompt: ..., next: ...}`"
        return e.value_diagnostic(
            "FL103", f"{e.where()} must be a mapping, got {show(e.error.instance)}", hint
        )
    return e.value_diagnostic("FL103", message, _type_hint(e))


def _bad_duration(e: _Error) -> Diagnostic:
    value = e.error.instance
    if isinstance(value, (int, float)) and value < 0:
        return e.value_diagnostic(
            "FL104", f"`{e.field}` cannot be negative ({value})", "durations count up from 0"
        )
    hint = "write 5s, 500ms, 2m or a plain number of seconds"
    return e.value_diagnostic("FL104", f"`{e.field}` expects a duration, got {show(value)}", hint)


def _bad_delay(e: _Error) -> Diagnostic:
    value = e.error.instance
    hint = "write 30s, 10m, 2h, 1d or a plain number of seconds"
    return e.value_diagnostic("FL104", f"`{e.field}` expects a delay, got {show(value)}", hint)


def _bad_key(e: _Error) -> Diagnostic:
    value = e.error.instance
    hint = 'a key is one of 0-9, * or #; quote * and # ("#") because # starts a YAML comment'
    if value is None:
        hint = '# starts a YAML comment, so the value is empty: write "#" in quotes (false for no key)'
    return e.value_diagnostic("FL105", f"`{e.field}` expects a telephone key, got {show(value)}", hint)


def _bad_node_type(e: _Error) -> Diagnostic:
    value = e.error.instance
    hint = node_type_hint(str(value), NODE_KINDS) or "node types: " + ", ".join(NODE_KINDS)
    node = f"node '{e.path[1]}'" if len(e.path) > 1 else "this node"
    return e.value_diagnostic("FL106", f"{node} has an unknown type '{value}'", hint)


def _bad_identifier(e: _Error) -> Diagnostic:
    value = e.error.instance
    if not isinstance(value, str):
        return _wrong_type(e)
    what = "node id" if e.kind == "edge" else "name"
    hint = f"a {what} starts with a letter or _ and has only letters, digits and _"
    if e.kind == "edge":
        hint += " or -"
    return e.value_diagnostic("FL107", f"'{value}' is not a valid {what}", hint)


def _bad_name(e: _Error) -> Diagnostic:
    """A mapping key rejected by `propertyNames`: a DTMF option, a name, a weekday..."""
    key = str(e.error.instance)
    path = (*e.path, key)
    if e.kind == "dtmf_key":
        hint = "menu keys are 0-9, * and #, one key per option"
        return e.diagnostic("FL105", f"'{key}' is not a telephone key", hint, path)
    allowed = e.schema.get("enum")
    if isinstance(allowed, list):
        hint = did_you_mean(key, map(str, allowed)) or "one of " + ", ".join(map(str, allowed))
        return e.diagnostic("FL108", f"'{key}' is not allowed here", hint, path)
    hint = "a name starts with a letter or _ and has only letters, digits and _"
    if e.kind == "node_id":
        hint += " or -"
    hint += f": `{_as_name(key, e.kind == 'node_id')}`"
    if "^\\+?" in str(e.schema.get("pattern", "")):
        hint = "a dialed number has only digits (and a leading +)"
    return e.diagnostic("FL107", f"'{key}' is not a valid name", hint, path)


def _as_name(text: str, dashes: bool) -> str:
    """`my-code` as a valid name (`my_code`), for hints."""
    name = re.sub(r"[^A-Za-z0-9_-]" if dashes else r"[^A-Za-z0-9_]", "_", text.strip())
    return name if name[:1].isalpha() or name[:1] == "_" else "_" + name


def _not_one_of(e: _Error) -> Diagnostic:
    value = e.error.instance
    allowed = [str(a) for a in e.error.validator_value]
    hint = did_you_mean(str(value), allowed) or "one of " + ", ".join(allowed)
    return e.value_diagnostic("FL108", f"`{e.field}` cannot be {show(value)}", hint)


def _out_of_range(e: _Error, validator: str) -> Diagnostic:
    value = e.error.instance
    limit = e.error.validator_value
    if validator in ("minProperties", "minItems", "minLength") and limit == 1:
        return e.value_diagnostic("FL109", f"`{e.field}` is empty in {e.where()}", "give at least one entry")
    if validator == "uniqueItems":
        return e.value_diagnostic("FL111", f"`{e.field}` lists the same item twice", "remove the repeat")
    if validator == "pattern":
        return e.value_diagnostic(
            "FL112", f"{show(value)} is not a valid `{e.field}`", _pattern_hint(e.field)
        )
    words = {
        "minimum": f"at least {limit}",
        "maximum": f"at most {limit}",
        "minItems": f"at least {limit} items",
        "maxItems": f"at most {limit} items",
        "minLength": f"at least {limit} characters",
    }
    need = words.get(validator, "a different value")
    hints = {"minimum": f"use {limit} or more", "maximum": f"use {limit} or less"}
    return e.value_diagnostic("FL110", f"`{e.field}` must be {need}, got {show(value)}", hints.get(validator))


def _pattern_hint(field: str) -> str:
    return {
        "function": "write module.path:function_name",
        "holidays": 'write dates as "2026-10-01"',
        "gateway": "write host:port, e.g. 127.0.0.1:5090 or sip.carrier.example:5060",
        "caller_id": 'digits with an optional leading +, e.g. "95500" or "+861095500"',
        "password_env": "the name of an environment variable, e.g. IVR_TRUNK_PASSWORD",
    }.get(field, 'times are "HH:MM" (24-hour), e.g. "09:30"')


def _bad_setting(e: _Error) -> Diagnostic:
    """A gateway setting that takes a value or a `${VARIABLE}` reference (service channels)."""
    value = e.error.instance
    choices = [str(c) for branch in e.schema.get("oneOf", []) for c in branch.get("enum", [])]
    if choices:
        hint = did_you_mean(str(value), choices) or f"one of {', '.join(choices)}, or a ${{VARIABLE}}"
        return e.value_diagnostic("FL108", f"`{e.field}` cannot be {show(value)}", hint)
    message = f"`{e.field}` must be {e.schema.get('description', 'another value')}, got {show(value)}"
    return e.value_diagnostic("FL110", message, "write e.g. 587, or ${SMTP_PORT:-587}")


_KIND_CODES = {
    "setting": _bad_setting,
    "duration": _bad_duration,
    "delay": _bad_delay,
    "dtmf_key": _bad_key,
    "node_type": _bad_node_type,
    "identifier": _bad_identifier,
    "edge": _bad_identifier,
}
