"""Loads `*.test.yaml` files into `FlowTest`s; every mistake is a positioned diagnostic.

The YAML goes through flowlang's `load_yaml` (so lines and columns are known for every
value); this module checks the shape and reports `file:line:col: error[FT1xx]` problems,
never a stack trace. The format is documented, with tested examples, in docs/testing.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import cast, get_args

from ivr.flowlang.compile import parse_duration
from ivr.flowlang.diagnostics import Diagnostic, Severity, Span, did_you_mean
from ivr.flowlang.yamlsource import LoadedYaml, SourceMap, YamlPath, load_yaml, load_yaml_bytes
from ivr.runtime.flowtest.model import ACTIONS, Expected, Fixtures, FlowTest, Outbound, Step, TestFile
from ivr.runtime.ports import DeliveryResult, QueueOutcome
from ivr.runtime.testing import Fixture, QueueAnswer, ScriptedDelivery

TEST_KEYS = (
    "name",
    "flow",
    "number",
    "caller",
    "language",
    "at",
    "inputs",
    "outbound",
    "fixtures",
    "script",
    "expect",
    "timeout",
)
EXPECT_KEYS = (
    "node",
    "ended",
    "variables",
    "operations",
    "transfers",
    "queued",
    "messages",
    "recordings",
    "path",
    "global_keys",
    "context",
)
DEFAULT_AT = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)  # a Monday morning
REFUSED = ("down", "error")  # channel fixtures that refuse at `send` (DeliveryError)
MAX_UNKNOWN = 100  # unknown fields listed one by one per mapping; the rest are counted


class _Reader:
    def __init__(self, file: str, source_map: SourceMap) -> None:
        self.file = file
        self.map = source_map
        self.problems: list[Diagnostic] = []

    def error(self, path: YamlPath, message: str, hint: str | None = None, *, key: bool = False) -> None:
        span = self.map.key(path) if key else self.map.value(path)
        self.problems.append(Diagnostic("FT101", Severity.ERROR, message, span, hint))

    def mapping(self, value: object, path: YamlPath, what: str) -> Mapping[str, object]:
        if isinstance(value, Mapping):
            return value
        self.error(path, f"{what} must be a mapping (key: value lines)")
        return {}

    def keys(self, data: Mapping[str, object], path: YamlPath, allowed: tuple[str, ...]) -> None:
        unknown = [key for key in data if key not in allowed]
        for key in unknown[:MAX_UNKNOWN]:
            hint = did_you_mean(key, allowed) or f"allowed here: {', '.join(allowed)}"
            self.error((*path, key), f"unknown field '{key}'", hint, key=True)
        if len(unknown) > MAX_UNKNOWN:  # found by fuzzing: 20,000 keys took seconds of hints
            more = unknown[MAX_UNKNOWN]
            self.error((*path, more), f"and {len(unknown) - MAX_UNKNOWN:,} more unknown fields", key=True)

    def duration(self, value: object, path: YamlPath) -> float:
        seconds = parse_duration(value)
        if seconds is None:
            self.error(path, f"'{value}' is not a duration", "write 5s, 500ms, 2m or a number of seconds")
            return 0.0
        return float(seconds)


def _read(file: str) -> bytes | Diagnostic:
    """The bytes of a file, or an FL009 diagnostic when it cannot be read (a folder, a
    missing file, no permission): a user mistake, never a stack trace."""
    try:
        return Path(file).read_bytes()
    except OSError as exc:
        reason = "it is a folder" if Path(file).is_dir() else (exc.strerror or str(exc))
        return Diagnostic(
            "FL009",
            Severity.ERROR,
            f"the file cannot be read: {reason}",
            Span(file, 1, 1),
            "give a YAML file",
        )


def load_test_file(file: str, text: str | None = None) -> tuple[TestFile | None, list[Diagnostic]]:
    """Read one test file (or use `text` as its content, as the editor does for an unsaved
    buffer); None (with diagnostics) when it cannot be used."""
    if text is None:
        data = _read(file)
        if isinstance(data, Diagnostic):
            return None, [data]
        loaded = load_yaml_bytes(data, file)
    else:
        loaded = load_yaml(text, file)
    if loaded.diagnostics:
        return None, loaded.diagnostics
    reader = _Reader(file, loaded.source_map)
    root = reader.mapping(loaded.data, (), "a test file")
    reader.keys(root, (), ("tests", "project"))
    raw_tests = root.get("tests")
    if not isinstance(raw_tests, list) or not raw_tests:
        reader.error(("tests",), "a test file needs `tests:`, a list of tests", "see docs/testing.md")
        return None, reader.problems
    tests = tuple(t for i, item in enumerate(raw_tests) if (t := _test(reader, item, ("tests", i))))
    project = _project(reader, root.get("project"), file)
    if reader.problems:
        return None, reader.problems
    return TestFile(file, project, tests), []


def _project(reader: _Reader, value: object, file: str) -> tuple[str, ...]:
    base = Path(file).parent
    if value is None:
        return (str(base),)
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) for v in items):
        reader.error(("project",), "`project` is a path (or a list of paths) to the flows")
        return ()
    missing = [str(v) for v in items if not (base / str(v)).exists()]
    if missing:
        reader.error(
            ("project",),
            f"no such file or folder: {', '.join(missing)} (relative to the test file)",
            "`project` names the flows' folder, relative to this test file",
        )
    return tuple(str(base / str(v)) for v in items)


def _test(reader: _Reader, item: object, path: YamlPath) -> FlowTest | None:
    data = reader.mapping(item, path, "a test")
    reader.keys(data, path, TEST_KEYS)
    name = data.get("name")
    if not isinstance(name, str):
        reader.error(path, "a test needs a `name`")
        name = "?"
    flow, number = data.get("flow"), data.get("number")
    if (flow is None) == (number is None):
        reader.error(path, f"test '{name}' needs exactly one of `flow` or `number`")
    script = _script(reader, data.get("script", []), (*path, "script"))
    expect = _expect(reader, data.get("expect", {}), (*path, "expect"))
    return FlowTest(
        name=name,
        span=reader.map.value(path),
        flow=str(flow) if flow is not None else None,
        number=str(number) if number is not None else None,
        caller=str(data.get("caller", "13800000000")),
        language=str(data["language"]) if "language" in data else None,
        at=_at(reader, data.get("at"), (*path, "at")),
        fixtures=_fixtures(reader, data.get("fixtures", {}), (*path, "fixtures")),
        script=script,
        expect=expect,
        timeout=reader.duration(data.get("timeout", "60m"), (*path, "timeout")),
        inputs=reader.mapping(data.get("inputs", {}), (*path, "inputs"), "`inputs`"),
        outbound=_outbound(reader, data.get("outbound"), (*path, "outbound")),
    )


def _outbound(reader: _Reader, value: object, path: YamlPath) -> Outbound | None:
    """`outbound: {contact: {...}, answered_by: person|machine, campaign: name, attempt: n}`."""
    if value is None:
        return None
    data = reader.mapping(value, path, "`outbound`")
    reader.keys(data, path, ("contact", "answered_by", "campaign", "attempt"))
    answered_by = data.get("answered_by", "person")
    if answered_by not in ("person", "machine"):
        reader.error((*path, "answered_by"), f"'{answered_by}' is not who answers", "person or machine")
        answered_by = "person"
    attempt = data.get("attempt", 1)
    if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 1:
        reader.error((*path, "attempt"), f"'{attempt}' is not an attempt number", "1, 2, 3...")
        attempt = 1
    return Outbound(
        reader.mapping(data.get("contact", {}), (*path, "contact"), "`contact`"),
        str(answered_by),
        str(data.get("campaign", "trial")),
        attempt,
    )


def _at(reader: _Reader, value: object, path: YamlPath) -> datetime:
    if value is None:
        return DEFAULT_AT
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        reader.error(path, f"'{value}' is not a date-time with a zone", "write 2026-11-27T10:00:00+08:00")
        return DEFAULT_AT
    return moment


def _script(reader: _Reader, value: object, path: YamlPath) -> tuple[Step, ...]:
    if not isinstance(value, list):
        reader.error(path, "`script` is a list of steps")
        return ()
    steps = (_step(reader, item, (*path, i)) for i, item in enumerate(value))
    return tuple(s for s in steps if s is not None)


def _step(reader: _Reader, item: object, path: YamlPath) -> Step | None:
    span = reader.map.value(path)
    if item == "hangup":
        return Step("hangup", None, span)
    if not isinstance(item, Mapping) or len(item) != 1:
        reader.error(
            path, "a step is one `action: value` pair, or `hangup`", f"actions: {', '.join(ACTIONS)}"
        )
        return None
    [(action, value)] = item.items()
    if action not in ACTIONS:
        hint = did_you_mean(action, ACTIONS) or f"actions: {', '.join(ACTIONS)}"
        reader.error((*path, action), f"unknown step '{action}'", hint, key=True)
        return None
    if action in ("silence", "speak"):
        return Step(action, reader.duration(value, (*path, action)), span)
    if action in ("press", "barge_in") and not (isinstance(value, str) and set(value) <= set("0123456789*#")):
        reader.error(
            (*path, action), f"'{value}' is not a string of keys", 'quote the keys: press: "600519#"'
        )
        return None
    if action == "expect" and not _is_regex(value):
        reader.error(
            (*path, action), f"'{value}' is not a valid regular expression", "escape ( ) [ ] . * + ? with \\"
        )
        return None
    return Step(action, None if value is None else str(value), span)


def _is_regex(value: object) -> bool:
    try:
        re.compile(str(value))
    except re.error:
        return False
    return True


def _expect(reader: _Reader, value: object, path: YamlPath) -> tuple[Expected, ...]:
    data = reader.mapping(value, path, "`expect`")
    reader.keys(data, path, EXPECT_KEYS)
    return tuple(Expected(k, v, reader.map.value((*path, k))) for k, v in data.items() if k in EXPECT_KEYS)


def _fixtures(reader: _Reader, value: object, path: YamlPath) -> Fixtures:
    data = reader.mapping(value, path, "`fixtures`")
    reader.keys(data, path, ("operations", "queues", "transfers", "channels"))
    ops = reader.mapping(data.get("operations", {}), (*path, "operations"), "`operations`")
    queues = reader.mapping(data.get("queues", {}), (*path, "queues"), "`queues`")
    transfers = reader.mapping(data.get("transfers", {}), (*path, "transfers"), "`transfers`")
    channels = reader.mapping(data.get("channels", {}), (*path, "channels"), "`channels`")
    deliveries = {k: _delivery(reader, v, (*path, "channels", k)) for k, v in channels.items()}
    return Fixtures(
        operations={k: _answers(reader, v, (*path, "operations", k)) for k, v in ops.items()},
        queues={k: _queue(reader, v, (*path, "queues", k)) for k, v in queues.items()},
        transfers={k: v == "connected" or v is True for k, v in transfers.items()},
        failing_channels=frozenset(k for k, v in deliveries.items() if v is None),
        deliveries={k: v for k, v in deliveries.items() if v is not None},
    )


def _delivery(reader: _Reader, value: object, path: YamlPath) -> ScriptedDelivery | None:
    """A channel fixture: `down` (refused at send: None), a result (`sent`, `failed`,
    `pending`) or `{result: ..., after: 20s}` (the gateway answers that long after queueing)."""
    if value in REFUSED:
        return None
    if not isinstance(value, dict):
        return ScriptedDelivery(_delivery_result(reader, value, path))
    data = reader.mapping(value, path, "a channel fixture")
    reader.keys(data, path, ("result", "after"))
    result = _delivery_result(reader, data.get("result", "sent"), (*path, "result"))
    return ScriptedDelivery(result, reader.duration(data.get("after", 0), (*path, "after")))


def _delivery_result(reader: _Reader, value: object, path: YamlPath) -> DeliveryResult:
    for result in get_args(DeliveryResult):
        if value == result:
            return cast(DeliveryResult, result)
    choices = ", ".join((REFUSED[0], *get_args(DeliveryResult)))
    reader.error(path, f"'{value}' is not a channel fixture", f"write one of: {choices}")
    return "sent"


def _answers(reader: _Reader, value: object, path: YamlPath) -> tuple[Fixture, ...]:
    items = value if isinstance(value, list) else [value]
    paths = [(*path, i) for i in range(len(items))] if isinstance(value, list) else [path]
    return tuple(f for item, p in zip(items, paths, strict=True) if (f := _fixture(reader, item, p)))


def _fixture(reader: _Reader, value: object, path: YamlPath) -> Fixture | None:
    data = reader.mapping(value, path, "an operation fixture")
    reader.keys(data, path, ("result", "error", "timeout", "latency", "when"))
    if not {"result", "error", "timeout"} & set(data):
        reader.error(path, "a fixture needs `result`, `error` or `timeout: true`")
        return None
    when = data.get("when")
    return Fixture(
        result=data.get("result"),
        error=str(data["error"]) if "error" in data else None,
        timeout=data.get("timeout") is True,
        latency=reader.duration(data.get("latency", 0), (*path, "latency")),
        when=reader.mapping(when, (*path, "when"), "`when`") if when is not None else None,
    )


def _queue(reader: _Reader, value: object, path: YamlPath) -> QueueAnswer:
    if isinstance(value, str):
        return QueueAnswer(_queue_outcome(reader, value, path))
    data = reader.mapping(value, path, "a queue fixture")
    reader.keys(data, path, ("outcome", "wait"))
    outcome = _queue_outcome(reader, data.get("outcome", "completed"), (*path, "outcome"))
    return QueueAnswer(outcome, reader.duration(data.get("wait", 0), (*path, "wait")))


def _queue_outcome(reader: _Reader, value: object, path: YamlPath) -> QueueOutcome:
    for outcome in get_args(QueueOutcome):
        if value == outcome:
            return cast(QueueOutcome, outcome)
    choices = ", ".join(get_args(QueueOutcome))
    reader.error(path, f"'{value}' is not a queue outcome", f"write one of: {choices}")
    return "completed"


def as_decimal(value: object) -> Decimal | None:
    """Numbers from YAML or the engine, compared exactly."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        return Decimal(value)
    return None


def load_fixtures_file(file: str) -> tuple[Fixtures | None, list[Diagnostic]]:
    """A fixtures file for `ivr simulate --fixtures`: the `fixtures:` block of a flow test,
    at the top level (`operations:`, `queues:`, `transfers:`, `channels:`)."""
    data = _read(file)
    if isinstance(data, Diagnostic):
        return None, [data]
    return _fixtures_of(load_yaml_bytes(data, file), file)


def load_fixtures_text(text: str, file: str) -> tuple[Fixtures | None, list[Diagnostic]]:
    """`load_fixtures_file` for fixtures typed in (the editor's simulate panel)."""
    return _fixtures_of(load_yaml(text, file), file)


def _fixtures_of(loaded: LoadedYaml, file: str) -> tuple[Fixtures | None, list[Diagnostic]]:
    if loaded.diagnostics:
        return None, loaded.diagnostics
    reader = _Reader(file, loaded.source_map)
    fixtures = _fixtures(reader, loaded.data if loaded.data is not None else {}, ())
    return (None if reader.problems else fixtures), reader.problems
