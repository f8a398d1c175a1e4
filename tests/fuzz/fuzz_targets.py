"""The fuzz targets: every place hostile input enters, with the contract it must keep.

A target is an input generator and a check. The check feeds the input to the real code and
asserts its contract: every bad input ends as the documented kind of answer (a diagnostic, a
`BadRequest`, an HTTP 4xx), never an exception escaping, a 5xx or a broken connection.
The runners add the other two bounds: no case may take longer than a time limit, and the
campaign runs each target in a process with a memory limit.

`TARGETS` is the hook for new entry points: a new input surface adds a `Target` here and is
then fuzzed in CI (tests/fuzz/test_fuzz_targets.py) and by the campaign (scripts/fuzz.py)
alike. Planned: the hosting file (tenants: `hosting_file`, its loader and checks, seeded
from its examples). SIP messages are fuzzed by the SIP adapter's own tests.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import fuzz_corpus as corpus
import fuzz_inputs as inputs
from fuzz_draw import Draw

from ivr.adapters.cti.protocol import BadRequest, Request, parse_request
from ivr.flowlang.compile.service import build_service
from ivr.flowlang.diagnostics import Diagnostic, rank, render
from ivr.flowlang.draw.extract import extract
from ivr.flowlang.draw.render import to_dot
from ivr.flowlang.expressions import (
    EvaluationError,
    ExpressionError,
    check_expression,
    evaluate,
    parse_expression,
    parse_template,
    render_template,
)
from ivr.flowlang.expressions.values import MAX_ITEMS, MAX_TEXT
from ivr.flowlang.hostingfile import load_hosting_text
from ivr.flowlang.ir import Flow, Service
from ivr.flowlang.project import load_flow_text, load_project
from ivr.flowlang.tenancy import TenantProject, check_tenants
from ivr.flowlang.yamllimits import MAX_NODES
from ivr.flowlang.yamlsource import load_yaml, load_yaml_bytes
from ivr.runtime.flowtest.loader import load_test_file

FILE = "fuzz.yaml"
ORIGIN_LINE = 3
NOW = dt.datetime(2026, 11, 27, 14, 5)


class ContractBroken(AssertionError):
    """The code answered, but not as documented (a wrong kind of value, a 5xx, ...)."""


@dataclass(frozen=True)
class Target:
    name: str
    what: str  # the entry point, for the README and reports
    generate: Callable[[Draw], Any]
    check: Callable[[Any], None]
    ci_examples: int  # hypothesis examples per CI run
    time_limit: float = 5.0  # seconds any one case may take
    warm_up: Callable[[], object] | None = None  # once before the timed cases (starts a server)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ContractBroken(message)


# -- YAML -------------------------------------------------------------------------------------


def _yaml_input(draw: Draw, seeds: tuple[bytes, ...]) -> bytes:
    roll = draw.integer(0, 9)
    if draw.boolean(0.01):
        return inputs.costly_flow(draw)
    if roll <= 4:
        return inputs.mutate(draw, draw.choice(seeds))
    if roll <= 6:
        return inputs.edited_document(draw, draw.choice(seeds))
    if roll == 7:
        return inputs.random_yaml(draw)
    if roll == 8:
        return draw.binary(200)
    return draw.text(200).encode("utf-8", "surrogatepass")


def _check_diagnostics(found: Iterable[Diagnostic], sources: dict[str, str]) -> None:
    for d in found:
        _require(isinstance(d, Diagnostic), f"not a Diagnostic: {d!r}")
        _require(d.span.line >= 1 and d.span.col >= 1, f"bad position {d.span}")
        _require(bool(d.message) and d.code.startswith(("FL", "FT")), f"bad diagnostic {d}")
        render(d, sources)  # what the user sees must render
        json.dumps(d.to_json(), ensure_ascii=False)


def _size(value: object) -> int:
    """Values in a loaded document, as the limit counts them (keys included)."""
    if isinstance(value, dict):
        return 1 + sum(1 + _size(v) for v in value.values())
    if isinstance(value, list):
        return 1 + sum(_size(v) for v in value)
    return 1


def check_yaml(data: bytes) -> None:
    loaded = load_yaml_bytes(data, FILE)
    _check_diagnostics(loaded.diagnostics, {FILE: data.decode("utf-8", "replace")})
    _require(
        loaded.data is None or isinstance(loaded.data, dict | list | str | int | Decimal | bool),
        f"unexpected value {type(loaded.data)}",
    )
    _require(_size(loaded.data) <= MAX_NODES + 1, "the document passed the value limit")


# -- flows, the service, flow tests -------------------------------------------------------


@functools.cache
def brokerage_service() -> Service:
    path = corpus.REPO / "flows" / "service.yaml"
    loaded = load_yaml(path.read_text(encoding="utf-8"), str(path))
    service, found = build_service(loaded.data, loaded.source_map, str(path))
    assert service is not None and not [d for d in found if d.is_error], found
    return service


def _check_flow_text(text: str, service: Service | None) -> None:
    flow, found = load_flow_text(text, FILE, service)
    _check_diagnostics(found, {FILE: text})
    _require(found == rank(found), "diagnostics are not ranked")
    _require(flow is None or isinstance(flow, Flow), "not a Flow")
    if flow is None:
        _require(any(d.is_error for d in found), "no flow, yet no error says why")
        return
    for language in (*flow.languages[:2], None):
        to_dot(extract(flow, language, diagnostics=found))


def check_flow(data: bytes) -> None:
    _check_flow_text(data.decode("utf-8", "replace"), brokerage_service())


def check_service(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    loaded = load_yaml(text, FILE)
    _check_diagnostics(loaded.diagnostics, {FILE: text})
    if not isinstance(loaded.data, dict):
        return
    service, found = build_service(loaded.data, loaded.source_map, FILE)
    _check_diagnostics(found, {FILE: text})
    _require(service is not None or any(d.is_error for d in found), "no service, yet no error")
    main = (corpus.REPO / "flows" / "main.yaml").read_text(encoding="utf-8")
    _, checked = load_flow_text(main, "flows/main.yaml", service)
    _check_diagnostics(checked, {"flows/main.yaml": main})


@functools.cache
def _scratch() -> Path:
    return Path(tempfile.mkdtemp(prefix="ivr-fuzz-"))


def check_flow_test(data: bytes) -> None:
    path = _scratch() / "case.test.yaml"
    path.write_bytes(data)
    tests, found = load_test_file(str(path))
    _check_diagnostics(found, {str(path): data.decode("utf-8", "replace")})
    _require((tests is None) == bool(found), "a test file with problems must give no tests")


# -- the hosting file -------------------------------------------------------------------------

HOSTING_FILE = "hosting.yaml"
TWO_TENANTS = corpus.REPO / "tests" / "conformance" / "hosting" / "valid_two_tenants"


@functools.cache
def _two_tenants() -> tuple[dict[str, TenantProject], dict[str, str]]:
    """The conformance corpus's two valid tenants, loaded once, and their sources."""
    tenants, sources = {}, {}
    for name in ("alpha", "beta"):
        project, found = load_project([str(TWO_TENANTS / name)])
        tenants[name] = TenantProject(name, project, TWO_TENANTS / name, tuple(found))
        sources.update(project.sources)
    return tenants, sources


def check_hosting(data: bytes) -> None:
    """The hosting file alone, then its tenants (those named alpha and beta) checked against
    it and each other, as `ivr check hosting.yaml` and publishing do."""
    text = data.decode("utf-8", "replace")
    hosting, found = load_hosting_text(text, HOSTING_FILE)
    _check_diagnostics(found, {HOSTING_FILE: text})
    _require(hosting is not None or any(d.is_error for d in found), "no hosting file, yet no error")
    if hosting is None:
        return
    projects, sources = _two_tenants()
    tenants = {name: t for name, t in projects.items() if name in hosting.tenants}
    _check_diagnostics(check_tenants(hosting, tenants), {HOSTING_FILE: text, **sources})


# -- expressions and templates ------------------------------------------------------------


def _expression_input(draw: Draw) -> tuple[str, dict[str, object]]:
    roll = draw.integer(0, 5)
    if roll <= 2:
        text = inputs.expression_text(draw)
    elif roll <= 4:
        text = inputs.mutate(draw, draw.choice(corpus.expressions()).encode(), max_edits=3).decode(
            "utf-8", "replace"
        )
    else:
        text = draw.text(60)
    return text, inputs.scope(draw)


def _check_value(value: object) -> None:
    if isinstance(value, str):
        _require(len(value) <= MAX_TEXT, f"text of {len(value):,} characters")
    elif isinstance(value, list | tuple):
        _require(len(value) <= MAX_ITEMS, f"list of {len(value):,} items")
    else:
        _require(value is None or isinstance(value, bool | Decimal | dict), f"value of type {type(value)}")


def check_expression_case(case: tuple[str, dict[str, object]]) -> None:
    from ivr.flowlang.diagnostics import Span

    text, scope = case
    origin = Span(FILE, ORIGIN_LINE, 7)
    try:
        expr = parse_expression(text, origin)
    except ExpressionError as error:
        _require(error.code == "FL201" and bool(error.message), f"bad error {error!r}")
        _require(error.span.file == FILE and error.span.line >= ORIGIN_LINE, f"bad span {error.span}")
        return
    found = check_expression(expr, known_names=set(inputs.NAMES), operations={"quote_of": 1})
    _check_diagnostics(found, {FILE: "\n" * ORIGIN_LINE + text})
    try:
        _check_value(evaluate(expr, scope, now=NOW))
    except EvaluationError as error:
        _require(bool(error.message) and error.span.file == FILE, f"bad error {error!r}")


def _template_input(draw: Draw) -> tuple[str, dict[str, object]]:
    if draw.boolean():
        text = inputs.template_text(draw)
    else:
        seed = draw.choice(corpus.templates()).encode()
        text = inputs.mutate(draw, seed, max_edits=3).decode("utf-8", "replace")
    return text, inputs.scope(draw)


def check_template_case(case: tuple[str, dict[str, object]]) -> None:
    from ivr.flowlang.diagnostics import Span

    text, scope = case
    try:
        template = parse_template(text, Span(FILE, ORIGIN_LINE, 7))
    except ExpressionError as error:
        _require(error.code in ("FL201", "FL202") and bool(error.message), f"bad error {error!r}")
        return
    check_expression(template, known_names=set(inputs.NAMES))
    for language in ("zh", "en", "zh-Hant", "yue"):
        try:
            spoken = render_template(template, scope, language=language, now=NOW)
        except EvaluationError as error:
            _require(bool(error.message), f"bad error {error!r}")
        else:
            _require(isinstance(spoken, str) and len(spoken) <= MAX_TEXT, "prompt text too long")


# -- CTI messages -------------------------------------------------------------------------

CTI_CODES = {"too_large", "bad_json", "bad_message", "bad_field", "missing_field", "unknown_command"}


def check_cti_message(message: str | bytes) -> None:
    result = parse_request(message)
    if isinstance(result, BadRequest):
        _require(result.error.code in CTI_CODES, f"undocumented code {result.error.code}")
        json.dumps({"reply": result.id, "ok": False, "error": result.error.json()})
    else:
        _require(isinstance(result, Request) and result.id is not None, f"bad result {result!r}")


def _socket_messages(draw: Draw) -> list[str | bytes]:
    return [inputs.cti_message(draw, corpus.CTI_MESSAGES) for _ in range(draw.integer(1, 4))]


def check_cti_socket(messages: list[str | bytes]) -> None:
    from fuzz_http import shared

    safe = [m for m in messages if "logout" not in (m if isinstance(m, str) else m.decode("latin-1"))]
    replies = shared().websocket(safe)
    _require(replies[-1].get("pong") is True, f"no pong after garbage: {replies[-3:]}")
    for reply in replies:
        error = reply.get("error")
        if isinstance(error, dict):
            _require(error.get("code") not in (None, "internal"), f"internal error {reply}")


# -- the HTTP API ---------------------------------------------------------------------------


def _shared_server() -> object:
    from fuzz_http import shared

    return shared()


def _http_input(draw: Draw) -> inputs.HttpRequest:
    """Mostly any request to the hosted API; a fifth are a tenant checking or publishing
    flows mutated as the `flow` target mutates them (hostile YAML through the publish API)."""
    if draw.boolean(0.2):
        return _publish_input(draw)
    return inputs.http_request(draw, corpus.HTTP_PATHS, corpus.BODIES, corpus.QUERIES, corpus.AUTHORIZATIONS)


def _publish_input(draw: Draw) -> inputs.HttpRequest:
    text = _yaml_input(draw, corpus.flows()).decode("utf-8", "replace")
    files = {draw.choice(("main.yaml", "busy.yaml", "service.yaml", "main.test.yaml")): text}
    path = draw.choice(("/tenants/alpha/check", "/tenants/alpha/check", "/tenants/alpha/versions"))
    token = draw.choice((b"Bearer fuzz-alpha-token", b"Bearer fuzz-operator-token"))
    headers = ((b"host", b"127.0.0.1"), (b"content-type", b"application/json"), (b"authorization", token))
    body = json.dumps({"files": files, "author": "fuzz"}).encode()
    return inputs.HttpRequest("POST", path, b"", headers, body)


def check_http_asgi(request: inputs.HttpRequest) -> None:
    from fuzz_http import CALLS, shared

    reply = shared().asgi(request)
    _require(reply.starts == 1, f"{reply.starts} response starts")
    _require(100 <= reply.status < 500, f"status {reply.status}: {reply.body[:300]!r}")
    headers = dict(reply.headers)
    _require(int(headers.get(b"content-length", b"-1")) == len(reply.body), "content-length mismatch")
    if headers.get(b"content-type", b"").startswith(b"application/json") and reply.body:
        json.loads(reply.body)
    authorization = dict(request.headers).get(b"authorization", b"")
    for tenant, other in (("alpha", "beta"), ("beta", "alpha")):
        if authorization == f"Bearer fuzz-{tenant}-token".encode() and 200 <= reply.status < 300:
            _require(CALLS[other].encode() not in reply.body, f"{tenant}'s token saw {other}'s call")


def _wire_input(draw: Draw) -> bytes:
    request = _http_input(draw)
    target = request.path.encode("utf-8", "surrogateescape") + (
        b"?" + request.query if request.query else b""
    )
    head = b"%s %s HTTP/1.1\r\n" % (request.method.encode("utf-8", "replace"), target)
    headers = b"".join(b"%s: %s\r\n" % pair for pair in request.headers)
    if request.body:
        headers += b"content-length: %d\r\n" % len(request.body)
    raw = head + headers + b"connection: close\r\n\r\n" + request.body
    roll = draw.integer(0, 4)
    if roll == 0:
        return inputs.mutate(draw, raw, max_edits=4)
    if roll == 1:
        return draw.binary(300)
    return raw


def check_http_wire(raw: bytes) -> None:
    from fuzz_http import shared

    server = shared()
    answer = server.wire(raw)
    if answer:
        status_line = answer.split(b"\r\n", 1)[0]
        _require(status_line.startswith(b"HTTP/1.1 "), f"not an HTTP answer: {status_line[:80]!r}")
        status = int(status_line.split(b" ")[1])
        _require(status < 500, f"status {status}")
    health = server.wire(b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
    _require(health.startswith(b"HTTP/1.1 200"), "the server stopped answering /health")


# -- the editor's API ------------------------------------------------------------------------

EDITOR_FILES = ("main.yaml", "orders.yaml", "service.yaml", "new.yaml", "../outside.yaml", "x/../../y.yaml")


def _editor_input(draw: Draw) -> tuple[str, str, bytes]:
    """A request to the editor: mostly a check or a drawing of a mutated flow, sometimes a
    file path that tries to leave the workspace, or a body that is not what is asked."""
    roll = draw.integer(0, 9)
    if roll <= 5 or roll == 6:
        text = _yaml_input(draw, corpus.flows()).decode("utf-8", "replace")
        body = {"file": draw.choice(EDITOR_FILES), "text": text}
        if draw.boolean(0.1):
            body = {"file": draw.choice(EDITOR_FILES), "text": inputs.json_value(draw)}  # type: ignore[dict-item]
        return "POST", "/api/check" if roll <= 5 else "/api/draw", json.dumps(body).encode()
    if roll == 7:
        return "POST", "/api/check", inputs.mutate(draw, b'{"file": "main.yaml", "text": "flow: x"}')
    path = inputs.mutate(draw, draw.choice(EDITOR_FILES).encode(), max_edits=2).decode("latin-1")
    return "GET", "/api/files/" + quote(path.lstrip("/"), safe="/.%"), b""  # as a browser sends it


def check_editor_api(request: tuple[str, str, bytes]) -> None:
    from fuzz_http import shared_editor

    method, path, body = request
    status, answer, kind = shared_editor().request(method, path, body)
    _require(status < 500, f"status {status}: {answer[:200]!r}")
    _require(b"Traceback" not in answer, "a traceback in the answer")
    if kind.startswith("application/json"):
        reply = json.loads(answer)
        if path == "/api/check" and status == 200:
            _require(isinstance(reply.get("diagnostics"), list), f"no diagnostics in {reply}")


TARGETS: tuple[Target, ...] = (
    Target(
        "yaml",
        "flowlang.yamlsource.load_yaml_bytes: any bytes as a YAML document",
        lambda d: _yaml_input(d, corpus.all_yaml()),
        check_yaml,
        300,
        time_limit=10.0,  # a document at the value limit loads in ~1 s, ~3 s on a busy machine
    ),
    Target(
        "flow",
        "flowlang.project.load_flow_text (load, schema, compile, every check) and the drawing",
        lambda d: _yaml_input(d, corpus.flows()),
        check_flow,
        150,
        time_limit=20.0,  # a flow at the expression budget takes about 2 s here, more under load
    ),
    Target(
        "service",
        "the service file: build_service, then a real flow checked against it",
        lambda d: _yaml_input(d, corpus.services()),
        check_service,
        60,
        time_limit=15.0,
    ),
    Target(
        "hosting",
        "flowlang.hostingfile.load_hosting_text, then tenancy.check_tenants on two tenants",
        lambda d: _yaml_input(d, corpus.hosting_files()),
        check_hosting,
        150,
        time_limit=10.0,
    ),
    Target(
        "flow_test",
        "runtime.flowtest.loader.load_test_file: a *.test.yaml file",
        lambda d: _yaml_input(d, corpus.flow_tests()),
        check_flow_test,
        120,
        time_limit=15.0,
    ),
    Target(
        "expression",
        "expressions: parse_expression, check_expression, evaluate",
        _expression_input,
        check_expression_case,
        400,
    ),
    Target(
        "template",
        "prompt templates: parse_template, check_expression, render_template in zh/en",
        _template_input,
        check_template_case,
        300,
    ),
    Target(
        "cti_message",
        "adapters.cti.protocol.parse_request: one WebSocket message",
        lambda d: inputs.cti_message(d, corpus.CTI_MESSAGES),
        check_cti_message,
        400,
    ),
    Target(
        "cti_socket",
        "a tenant's CTI WebSocket (/tenants/alpha/cti/ws, hypercorn): messages after login, a ping",
        _socket_messages,
        check_cti_socket,
        40,
        time_limit=15.0,
        warm_up=lambda: _shared_server(),
    ),
    Target(
        "http_asgi",
        "the hosted HTTP API (Starlette: tokens, two tenants, publishing, desks), through ASGI",
        _http_input,
        check_http_asgi,
        300,
        time_limit=20.0,  # a fifth are publishing checks of mutated flows: the flow target's limit
        warm_up=lambda: _shared_server(),
    ),
    Target(
        "editor_api",
        "the flow editor's API (Starlette, through ASGI): check and draw a text, read a file",
        _editor_input,
        check_editor_api,
        60,
        time_limit=30.0,  # a check at the expression budget, then a drawing, under load
    ),
    Target(
        "http_wire",
        "the same app over real HTTP/1.1 (hypercorn on 127.0.0.1): raw request bytes",
        _wire_input,
        check_http_wire,
        60,
        time_limit=15.0,
        warm_up=lambda: _shared_server(),
    ),
)

BY_NAME = {target.name: target for target in TARGETS}
