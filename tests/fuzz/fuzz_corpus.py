"""The real inputs fuzzing starts from: the brokerage flows, the conformance corpus, the
service file, hosting files, flow tests, expressions and templates taken out of those flows, CTI messages
from docs/cti.md and the HTTP routes. Mutating real inputs reaches deep into the checker;
random bytes alone mostly stop at the YAML parser.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from ivr.flowlang.yamlsource import load_yaml

REPO = Path(__file__).resolve().parents[2]

EXPRESSION_FIELDS = {"if", "valid", "priority", "to", "document"}
EXPRESSION_MAPS = {"assign", "args", "outputs"}  # every value in these is an expression


@functools.cache
def yaml_files(kind: str) -> tuple[tuple[str, bytes], ...]:
    """(name, bytes) of the real YAML files of one kind: flows, services, tests, hosting, any."""
    roots = [
        REPO / "flows",
        REPO / "tests" / "conformance",
        REPO / "tests" / "hosting" / "flows",
        REPO / "tenants" / "fund",
    ]
    found = sorted({p for root in roots if root.is_dir() for p in root.rglob("*.yaml") if p.is_file()})
    found.append(REPO / "hosting.yaml")
    picked = []
    for path in found:
        data = path.read_bytes()
        is_test = path.name.endswith(".test.yaml")
        is_service = data.lstrip().startswith(b"service:") or b"\nservice:" in data
        is_hosting = data.lstrip().startswith(b"hosting:") or b"\nhosting:" in data
        if (
            kind == "any"
            or (kind == "tests" and is_test)
            or (kind == "services" and is_service and not is_test)
            or (kind == "hosting" and is_hosting)
            or (kind == "flows" and not is_test and not is_service and not is_hosting)
        ):
            picked.append((str(path.relative_to(REPO)), data))
    return tuple(picked)


def flows() -> tuple[bytes, ...]:
    return tuple(data for _, data in yaml_files("flows"))


def services() -> tuple[bytes, ...]:
    return tuple(data for _, data in yaml_files("services"))


def hosting_files() -> tuple[bytes, ...]:
    return tuple(data for _, data in yaml_files("hosting"))


def flow_tests() -> tuple[bytes, ...]:
    return tuple(data for _, data in yaml_files("tests"))


def all_yaml() -> tuple[bytes, ...]:
    return tuple(data for _, data in yaml_files("any"))


@functools.cache
def expressions() -> tuple[str, ...]:
    """Every expression written in the corpus's flows (conditions, validations, values)."""
    return tuple(sorted(text for text, template in _texts() if not template)) or ("1 + 1",)


@functools.cache
def templates() -> tuple[str, ...]:
    """Every prompt text with `{...}` in the corpus's flows."""
    return tuple(sorted(text for text, template in _texts() if template)) or ("Hi {name}",)


def _texts() -> set[tuple[str, bool]]:
    found: set[tuple[str, bool]] = set()
    for name, data in yaml_files("flows"):
        loaded = load_yaml(data.decode("utf-8", errors="replace"), name)
        _collect(loaded.data, None, found)
    return found


def _collect(value: object, key: str | None, found: set[tuple[str, bool]]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _collect(v, "=" if key in EXPRESSION_MAPS else str(k), found)
    elif isinstance(value, list):
        for item in value:
            _collect(item, key, found)
    elif isinstance(value, str):
        if key == "=" or key in EXPRESSION_FIELDS:
            found.add((value, False))
        elif "{" in value:
            found.add((value, True))


CTI_MESSAGES = (
    '{"id": 1, "command": "login", "token": "t-0123456789abcdef"}',
    '{"id": "a", "command": "login", "extension": "8001", "password": "demo-8001"}',
    '{"id": 7, "command": "state", "state": "ready"}',
    '{"id": 7, "command": "state", "state": "not_ready"}',
    '{"id": 8, "command": "hangup", "call_id": "c-2"}',
    '{"id": 9, "command": "transfer", "call_id": "c-2", "queue": "billing"}',
    '{"id": 10, "command": "transfer", "call_id": "c-2", "agent": "8002"}',
    '{"id": 11, "command": "transfer", "call_id": "c-2", "number": "95500"}',
    '{"id": 12, "command": "wrapup", "call_id": "c-2", "disposition": "ok", "notes": "n", "ready": true}',
    '{"id": 13, "command": "ping"}',
    '{"id": 14, "command": "logout"}',
    '{"id": 15, "command": "history", "call_id": "c-2"}',
    '{"id": 16, "command": "history", "account": "31000001", "section": "calls", "before": "2026-12-01"}',
)

# The hosted API (`ivr serve --hosting`, two tenants: alpha and beta; fuzz_http.py).
HTTP_PATHS = (
    "/health",
    "/metrics",
    "/calls",
    "/calls/recent",
    "/calls/call-alpha/trace",
    "/calls/call-beta/trace",
    "/calls/call-alpha/recordings",
    "/calls/nope/trace",
    "/recordings/nope",
    "/usage",
    "/tenants",
    "/tenants/alpha",
    "/tenants/beta",
    "/tenants/nope",
    "/tenants/alpha/versions",
    "/tenants/alpha/check",
    "/tenants/alpha/rollback",
    "/tenants/alpha/versions/folder/files",
    "/tenants/alpha/versions/folder/diff/folder",
    "/tenants/alpha/desktop/",
    "/tenants/alpha/desktop/index.html",
    "/tenants/alpha/desktop/desktop.js",
    "/tenants/beta/desktop/cti.js",
    "/tenants/alpha/cti/login",
    "/tenants/alpha/cti/ws",
    "/desktop/",
    "/cti/login",
)
QUERIES = (
    b"n=5",
    b"n=-1",
    b"n=99999999999999999999",
    b"n=x",
    b"n=1&n=2",
    b"%",
    b"n=\xff",
    b"from=2026-01-01&to=2026-01-31",
    b"from=2026-02-01&to=2026-01-01",
    b"from=1900-01-01",
    b"tenant=beta",
    b"tenant=alpha&from=x",
)
_FLOW = "flow: main\nlanguages: [en]\nstart: bye\nnodes:\n  bye: {type: hangup, prompt: {en: Bye.}}\n"
BODIES = (
    b'{"extension": "8001", "password": "pw-8001"}',
    b'{"extension": "8001", "password": "wrong"}',
    b'{"extension": "9999", "password": "x"}',
    json.dumps({"files": {"main.yaml": _FLOW}, "author": "fuzz"}).encode(),
    json.dumps({"files": {"main.yaml": _FLOW, "../x.yaml": "flow: x"}, "audio": {"a.wav": "AAAA"}}).encode(),
    json.dumps({"files": {"main.yaml": _FLOW}, "audio": {"a.wav": "not base64!"}}).encode(),
    b'{"version": "folder", "author": "fuzz", "note": "back"}',
    b'{"files": [], "author": 3}',
)
# Authorization headers: none, each token, and what is not a token.
AUTHORIZATIONS = (
    b"",
    b"Bearer fuzz-operator-token",
    b"Bearer fuzz-alpha-token",
    b"Bearer fuzz-beta-token",
    b"Bearer wrong",
    b"Basic Zm9vOmJhcg==",
    b"Bearer ",
    b"bearer fuzz-alpha-token",
)
