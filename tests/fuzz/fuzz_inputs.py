"""Input generators for the fuzz targets, each written once against `fuzz_draw.Draw`.

Three kinds, mixed in every target:
- mutation of real inputs (`mutate`): byte and line edits of corpus files, with pieces that
  matter to YAML, the flow language and expressions;
- structure-aware generation: flow documents edited as data and dumped back to YAML
  (`edited_document`), expressions from the grammar (`expression_text`), CTI commands from
  the protocol's fields, HTTP requests from the routes;
- plain random text and bytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import yaml
from fuzz_draw import Draw

from ivr.flowlang.expressions import FORMATTERS, FUNCTIONS

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

# pieces worth splicing into YAML / flow / expression text
_TEXT_PIECES = (
    ": ",
    "- ",
    "\n",
    "\n  ",
    "  ",
    "\t",
    "{",
    "}",
    "[",
    "]",
    ",",
    "#",
    "'",
    '"',
    "|",
    ">",
    "&a ",
    "*a",
    "<<: *a",
    "!!str ",
    "!!python/object:os.system ",
    "!custom ",
    "? ",
    "---\n",
    "...\n",
    "%YAML 1.1\n",
    "~",
    "no",
    "yes",
    "on",
    "null",
    "true",
    "1e400",
    "9" * 50,
    "0x1F",
    "-0",
    ".inf",
    "12:30",
    "2026-01-05",
    "type: ",
    "next: ",
    "nodes:",
    "prompt: ",
    "{en: x}",
    "options:",
    "'1': ",
    "secret: true",
    "on_error: ",
    "subflow",
    "menu",
    "collect",
    "hangup",
    "{x}",
    "{{",
    "}}",
    "{a|money}",
    "{a|digits:2}",
    "len(",
    ")",
    " and ",
    " or ",
    " not ",
    " in ",
    " if ",
    " else ",
    "._",
    "__class__",
    "\x00",
    "\u2028",
    "\ufeff",
    "余额",
    "（",
)
PIECES: tuple[bytes, ...] = (*(p.encode() for p in _TEXT_PIECES), b"\xff", b"\xc3", b"\xed\xa0\x80")


def mutate(draw: Draw, seed: bytes, *, max_edits: int = 6) -> bytes:
    """`seed` after a few random edits (byte-level and line-level)."""
    data = bytearray(seed)
    for _ in range(draw.integer(1, max_edits)):
        _edit(draw, data)
    return bytes(data)


def _edit(draw: Draw, data: bytearray) -> None:
    size = len(data)
    at = draw.integer(0, size)
    kind = draw.choice(("insert", "delete", "replace", "duplicate", "line", "flip", "indent"))
    if kind == "insert" or size == 0:
        data[at:at] = draw.choice(PIECES) if draw.boolean(0.8) else draw.text(8).encode("utf-8", "replace")
    elif kind == "delete":
        del data[at : at + draw.integer(1, 40)]
    elif kind == "replace":
        data[at : at + draw.integer(1, 8)] = draw.choice(PIECES)
    elif kind == "duplicate":
        piece = data[at : at + draw.integer(1, 200)]
        where = draw.integer(0, size)
        data[where:where] = piece * draw.integer(1, 4)
    elif kind == "flip":
        if at < size:
            data[at] ^= 1 << draw.integer(0, 7)
    else:
        _line_edit(draw, data, kind)


def _line_edit(draw: Draw, data: bytearray, kind: str) -> None:
    lines = bytes(data).split(b"\n")
    i = draw.integer(0, len(lines) - 1)
    if kind == "indent":
        lines[i] = (b"  " + lines[i]) if draw.boolean() else lines[i].removeprefix(b"  ")
    else:
        j = draw.integer(0, len(lines) - 1)
        how = draw.choice(("swap", "copy", "drop"))
        if how == "swap":
            lines[i], lines[j] = lines[j], lines[i]
        elif how == "copy":
            lines.insert(j, lines[i])
        else:
            del lines[i]
    data[:] = b"\n".join(lines)


# -- documents edited as data --------------------------------------------------------------


def edited_document(draw: Draw, seed: bytes) -> bytes:
    """A corpus document changed as data (a key renamed, dropped, a value swapped for
    another of any kind, a node copied or pointed elsewhere), dumped back to YAML: the
    YAML is well formed, so the checker's deeper stages see it."""
    try:
        data = yaml.load(seed, Loader=_LOADER)
    except yaml.YAMLError:
        return seed
    for _ in range(draw.integer(1, 5)):
        data = _edit_value(draw, data, depth=0)
    try:
        return yaml.dump(data, Dumper=_DUMPER, allow_unicode=True, sort_keys=False).encode()
    except (yaml.YAMLError, RecursionError):
        return seed


def _edit_value(draw: Draw, value: object, depth: int) -> object:
    if isinstance(value, dict) and value and depth < 8 and draw.boolean(0.97 if depth == 0 else 0.75):
        key = draw.choice(list(value))
        roll = draw.integer(0, 9)
        if roll == 0:
            del value[key]
        elif roll == 1:
            value[draw.choice(("type", "next", "prompt", "into", "options", "x", f"{key}_"))] = value.pop(key)
        elif roll == 2:
            value[f"{key}_copy"] = value[key]
        else:
            value[key] = _edit_value(draw, value[key], depth + 1)
        return value
    if isinstance(value, list) and value and depth < 8 and draw.boolean(0.75):
        i = draw.integer(0, len(value) - 1)
        if draw.boolean(0.2):
            value.append(value[i])
        else:
            value[i] = _edit_value(draw, value[i], depth + 1)
        return value
    return random_value(draw, depth)


def random_value(draw: Draw, depth: int = 0) -> object:
    """Any YAML-able value, biased towards what flows hold."""
    roll = draw.integer(0, 11)
    if roll == 0:
        return None
    if roll == 1:
        return draw.boolean()
    if roll == 2:
        return draw.integer(-(2**40), 2**40)
    if roll == 3:
        return str(draw.decimal())
    if roll == 4:
        return expression_text(draw)
    if roll == 5:
        return template_text(draw)
    if roll == 6:
        return draw.choice(("menu", "say", "collect", "hangup", "main", "en", "zh", "5s", "#", "1", ""))
    if roll in (7, 8) and depth < 4:
        return [random_value(draw, depth + 1) for _ in range(draw.integer(0, 3))]
    if roll in (9, 10) and depth < 4:
        keys = ("type", "prompt", "next", "en", "zh", "options", "1", "if", "value", draw.text(6))
        return {draw.choice(keys): random_value(draw, depth + 1) for _ in range(draw.integer(0, 3))}
    return draw.text(30)


def random_yaml(draw: Draw) -> bytes:
    """A document built from random values, with anchors and aliases now and then, or one
    of the shapes that cost a naive loader dearly."""
    if draw.boolean(0.1):
        return _costly_yaml(draw)
    body = yaml.dump(random_value(draw), Dumper=_DUMPER, allow_unicode=True).encode()
    if draw.boolean(0.3):
        body = b"base: &a " + body.replace(b"\n", b" ").strip()[:200] + b"\nuse: [*a, *a]\nmerged: {<<: *a}\n"
    return body


def _costly_yaml(draw: Draw) -> bytes:
    n = draw.choice((10, 100, 1_000, 20_000, 200_000))
    width = draw.integer(2, 12)
    shapes = {
        "laughs": lambda: (
            b"a0: &a0 [x, y]\n"
            + b"".join(
                b"a%d: &a%d [%s]\n" % (i, i, b", ".join([b"*a%d" % (i - 1)] * width)) for i in range(1, 12)
            )
        ),
        "recursive": lambda: b"a: &a [" + b", ".join([b"*a"] * width) + b"]\n",
        "merge": lambda: (
            b"a: &a {k: v}\n"
            + b"".join(b"m%d: &m%d {<<: [*a], k%d: v}\n" % (i, i, i) for i in range(n % 3000))
        ),
        "deep_flow": lambda: b"[" * n + b"]" * n,
        "deep_block": lambda: b"".join(b"  " * i + b"k:\n" for i in range(min(n, 3000))),
        "wide": lambda: b"[" + b"0," * n + b"]",
        "keys": lambda: b"".join(b"k%d: %d\n" % (i, i) for i in range(n)),
        "long_scalar": lambda: b"a: " + b"x" * (n * 20),
        "anchors": lambda: b"".join(b"- &a%d %d\n" % (i, i) for i in range(n)) + b"- *a0\n",
        "tags": lambda: b"".join(b"- !t%d x\n" % i for i in range(n)),
    }
    return shapes[draw.choice(sorted(shapes))]()


def costly_flow(draw: Draw) -> bytes:
    """A well-formed flow whose checking costs the most per byte: many long or deeply
    nested expressions and templates (each different, so no cache helps)."""
    count = draw.choice((10, 100, 1_000))
    shape = _COSTLY_EXPRESSIONS[draw.choice(sorted(_COSTLY_EXPRESSIONS))]
    size = draw.choice((20, 99, 101, 2_000))
    lines = ["flow: costly", "languages: [en]", "variables:", "  a: {type: number, initial: 0}", "start: n0"]
    lines.append("nodes:")
    for i in range(count):
        after = f"n{i + 1}" if i + 1 < count else "bye"
        condition = shape(size).replace('"', "'") + f" or a == {i}"
        lines += [f"  n{i}:", "    type: branch", "    cases:", f'      - if: "{condition}"']
        lines += [f"        next: {after}", f"    else: {after}"]
    lines.append("  bye: {type: hangup, prompt: {en: 'Bye {a|money}'}}")
    return "\n".join(lines).encode() + b"\n"


# -- expressions --------------------------------------------------------------------------

_COSTLY_EXPRESSIONS = {
    "parens": lambda n: "(" * n + "1" + ")" * n,
    "minus": lambda n: "-" * n + "1",
    "not": lambda n: "not " * n + "a",
    "attributes": lambda n: "a" + ".b" * n,
    "lists": lambda n: "[" * n + "]" * n,
    "sum": lambda n: "1" + " + 1" * n,
    "index": lambda n: "a" + "[0]" * n,
    "conditional": lambda n: "1 if a else " * n + "2",
    "calls": lambda n: "len(" * n + "a" + ")" * n,
    "text": lambda n: "'" + "x" * n * 10 + "'",
    "digits": lambda n: "9" * n,
    "fraction": lambda n: "1." + "9" * n,
    "join": lambda n: "s + s" + " + s + s" * n,
    "list_sum": lambda n: "xs" + " + xs" * n,
}

NAMES = ("a", "b", "code", "quote", "xs", "s", "call", "result", "missing", "_p", "余额")
FIELDS = ("name", "price", "qty", "found", "_raw", "x", "caller")


def expression_text(draw: Draw, depth: int = 0) -> str:
    """Text from the expression grammar (sometimes slightly off it, sometimes costly)."""
    if depth == 0 and draw.boolean(0.05):
        shape = _COSTLY_EXPRESSIONS[draw.choice(sorted(_COSTLY_EXPRESSIONS))]
        return shape(draw.choice((5, 50, 99, 100, 101, 500, 5_000)))
    roll = draw.integer(0, 13 if depth < 6 else 3)
    if roll == 0:
        return (
            str(draw.decimal()).replace("E+", "e").replace("E", "e")
            if draw.boolean(0.2)
            else str(draw.integer(0, 10**6))
        )
    if roll == 1:
        return json.dumps(draw.text(12), ensure_ascii=draw.boolean())
    if roll == 2:
        return draw.choice(NAMES)
    if roll == 3:
        return draw.choice(("true", "false", "null", "''", "1.5", "0", "9" * 45))
    sub = lambda: expression_text(draw, depth + 1)  # noqa: E731
    if roll == 4:
        return f"{sub()} {draw.choice(('+', '-', '*', '/', '%'))} {sub()}"
    if roll == 5:
        return f"{sub()} {draw.choice(('==', '!=', '<', '<=', '>', '>='))} {sub()}"
    if roll == 6:
        return f"{sub()} {draw.choice(('and', 'or', 'in', 'not in'))} {sub()}"
    if roll == 7:
        return f"{draw.choice(('not ', '-', '+', '--'))}{sub()}"
    if roll == 8:
        name = draw.choice([*FUNCTIONS, "quote_of", "eval", "open"])
        return f"{name}({', '.join(sub() for _ in range(draw.integer(0, 3)))})"
    if roll == 9:
        return f"{sub()}.{draw.choice(FIELDS)}"
    if roll == 10:
        return f"{sub()}[{sub()}]"
    if roll == 11:
        return f"[{', '.join(sub() for _ in range(draw.integer(0, 4)))}]"
    if roll == 12:
        return f"{sub()} if {sub()} else {sub()}"
    return f"({sub()})"


def template_text(draw: Draw) -> str:
    parts = []
    for _ in range(draw.integer(0, 4)):
        if draw.boolean(0.5):
            parts.append(draw.text(10).replace("{", "{{").replace("}", "}}"))
        else:
            formatter = f"|{draw.choice([*FORMATTERS, 'money2', ''])}" if draw.boolean(0.5) else ""
            arg = f":{draw.choice(('2', 'yao', '11', 'x'))}" if formatter and draw.boolean(0.3) else ""
            parts.append(f"{{{expression_text(draw, 2)}{formatter}{arg}}}")
    return "".join(parts)


def scope_value(draw: Draw, depth: int = 0) -> object:
    roll = draw.integer(0, 8)
    if roll == 0:
        return None
    if roll == 1:
        return draw.boolean()
    if roll == 2:
        return draw.decimal()
    if roll == 3:
        return draw.integer(-(10**12), 10**12)
    if roll in (4, 5):
        return draw.text(15)
    if roll == 6 and depth < 3:
        return [scope_value(draw, depth + 1) for _ in range(draw.integer(0, 4))]
    if roll == 7 and depth < 3:
        return {draw.choice(FIELDS): scope_value(draw, depth + 1) for _ in range(draw.integer(0, 4))}
    return "600000"


def scope(draw: Draw) -> dict[str, object]:
    return {name: scope_value(draw) for name in NAMES if draw.boolean(0.7)}


# -- CTI messages -------------------------------------------------------------------------

COMMANDS = ("login", "state", "hangup", "transfer", "wrapup", "ping", "logout", "dance", "")
CTI_FIELDS = (
    "id",
    "command",
    "token",
    "extension",
    "password",
    "state",
    "call_id",
    "queue",
    "agent",
    "number",
    "disposition",
    "notes",
    "ready",
)


def json_value(draw: Draw, depth: int = 0) -> object:
    roll = draw.integer(0, 8)
    if roll == 0:
        return None
    if roll == 1:
        return draw.boolean()
    if roll == 2:
        return draw.integer(-(2**70), 2**70)
    if roll == 3:
        return float(draw.integer(-1000, 1000)) / 7
    if roll == 4 and depth < 3:
        return [json_value(draw, depth + 1) for _ in range(draw.integer(0, 3))]
    if roll == 5 and depth < 3:
        return {draw.text(6): json_value(draw, depth + 1) for _ in range(draw.integer(0, 3))}
    if roll == 6:
        return draw.choice(("ready", "not_ready", "8001", "8002", "general", "billing", "call-1", "x" * 5000))
    return draw.text(20)


def cti_message(draw: Draw, seeds: Sequence[str]) -> str | bytes:
    roll = draw.integer(0, 5)
    if roll == 0:
        return draw.text(80) if draw.boolean() else draw.binary(80)
    if roll == 1:
        return mutate(draw, draw.choice(seeds).encode()).decode("utf-8", "replace")
    if roll == 2:
        return json.dumps(json_value(draw))
    message: dict[str, object] = {"id": draw.integer(0, 99), "command": draw.choice(COMMANDS)}
    for _ in range(draw.integer(0, 5)):
        message[draw.choice(CTI_FIELDS)] = json_value(draw)
    text = json.dumps(message)
    return text.encode() if draw.boolean(0.2) else text


# -- HTTP requests ------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    query: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


METHODS = ("GET", "GET", "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "G\x00T", "get")


def http_request(
    draw: Draw,
    paths: Sequence[str],
    bodies: Sequence[bytes],
    queries: Sequence[bytes] = (),
    authorizations: Sequence[bytes] = (),
) -> HttpRequest:
    path = draw.choice(paths)
    roll = draw.integer(0, 6)
    if roll == 0:
        path = mutate(draw, path.encode(), max_edits=3).decode("latin-1")
    elif roll == 1:
        path = (
            path
            + "/"
            + draw.choice(("..", "%2e%2e", "../../etc/passwd", ".hidden", "x" * 3000, draw.text(12)))
        )
    elif roll == 2:
        path = draw.text(40)
    query = b""
    if queries and draw.boolean(0.4):
        query = draw.choice(queries)
        if draw.boolean(0.3):
            query = draw.binary(30)
    body = b""
    if draw.boolean(0.4):
        body = mutate(draw, draw.choice(bodies), max_edits=3) if draw.boolean() else draw.binary(200)
        if draw.boolean(0.05):
            body = b"{" * 5000
    headers = [(b"host", b"127.0.0.1")]
    if draw.boolean(0.3):
        headers.append((b"content-type", draw.choice((b"application/json", b"text/plain", b"\xff"))))
    authorization = draw.choice(authorizations) if authorizations else b""
    if authorization:
        headers.append((b"authorization", authorization))
    return HttpRequest(draw.choice(METHODS), path, query, tuple(headers), body)
