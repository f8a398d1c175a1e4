"""One builder per node kind: a checked YAML mapping in, a frozen IR node out.

A builder returns None when a field the node cannot do without is missing or unusable
(the schema has said so already); the flow then leaves the node out and remembers its id,
so edges into it are not reported a second time. Defaults live here and in docs/language.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from ivr.flowlang.compile import values as v
from ivr.flowlang.compile.keys import global_keys
from ivr.flowlang.compile.reader import Reader
from ivr.flowlang.diagnostics import Span
from ivr.flowlang.ir import (
    Branch,
    Case,
    Collect,
    Confirm,
    Edge,
    Enqueue,
    Hangup,
    Language,
    Log,
    Lookup,
    Menu,
    MenuOption,
    Node,
    Record,
    Return,
    Say,
    Schedule,
    Send,
    Set,
    Subflow,
    Transfer,
)

MENU_TIMEOUT = Decimal(5)
MAX_RETRIES = 2
FIRST_DIGIT_TIMEOUT = Decimal(5)
INTER_DIGIT_TIMEOUT = Decimal(3)
CONFIRM_TIMEOUT = Decimal(5)
RECORD_MAX_LENGTH = Decimal(60)
TRANSFER_TIMEOUT = Decimal(30)


@dataclass(frozen=True)
class Base:
    """The fields every node has."""

    id: str
    span: Span
    description: str


def say(r: Reader, b: Base) -> Say | None:
    prompt = v.prompt(r, "prompt")
    if prompt is None:
        return None
    return Say(b.id, b.span, b.description, prompt, v.edge(r, "next"), r.flag("barge_in", True))


def menu(r: Reader, b: Base) -> Menu | None:
    prompt = v.prompt(r, "prompt")
    options = tuple(
        MenuOption(key, Edge(key, target, r.ctx.value_span(path)))
        for key, target, path in r.mapping("options")
        if isinstance(target, str)
    )
    if prompt is None:
        return None
    return Menu(
        b.id,
        b.span,
        b.description,
        prompt,
        options,
        retry_prompt=v.prompt(r, "retry_prompt"),
        no_input_prompt=v.prompt(r, "no_input_prompt"),
        no_match_prompt=v.prompt(r, "no_match_prompt"),
        timeout=v.duration(r, "timeout", MENU_TIMEOUT),
        max_retries=r.whole("max_retries", MAX_RETRIES),
        on_no_input=v.edge(r, "on_no_input"),
        on_no_match=v.edge(r, "on_no_match"),
        barge_in=r.flag("barge_in", True),
        global_keys=global_keys(r),
    )


def collect(r: Reader, b: Base) -> Collect | None:
    prompt, into = v.prompt(r, "prompt"), r.text("into")
    valid = v.field_expression(r, "valid") if r.has("valid") else None
    if prompt is None or into is None:
        return None
    _check_lengths(r)
    return Collect(
        b.id,
        b.span,
        b.description,
        prompt,
        into,
        r.span("into"),
        min_length=r.whole("min_length", 1),
        max_length=r.whole("max_length", 20),
        terminator=v.key(r, "terminator", "#"),
        first_digit_timeout=v.duration(r, "first_digit_timeout", FIRST_DIGIT_TIMEOUT),
        inter_digit_timeout=v.duration(r, "inter_digit_timeout", INTER_DIGIT_TIMEOUT),
        overall_timeout=v.optional_duration(r, "overall_timeout"),
        star_decimal=r.flag("star_decimal", False),
        valid=valid,
        retry_prompt=v.prompt(r, "retry_prompt"),
        no_input_prompt=v.prompt(r, "no_input_prompt"),
        invalid_prompt=v.prompt(r, "invalid_prompt"),
        max_retries=r.whole("max_retries", MAX_RETRIES),
        next=v.edge(r, "next"),
        on_no_input=v.edge(r, "on_no_input"),
        on_invalid=v.edge(r, "on_invalid"),
        barge_in=r.flag("barge_in", True),
        global_keys=global_keys(r),
    )


def _check_lengths(r: Reader) -> None:
    low, high = r.whole("min_length", 1), r.whole("max_length", 20)
    if low > high:
        r.ctx.report(
            "FL113",
            f"min_length {low} is more than max_length {high}: no entry can be valid",
            r.span("min_length"),
            "lower min_length or raise max_length (max_length is 20 when not given)",
            r.at("min_length"),
        )


def confirm(r: Reader, b: Base) -> Confirm | None:
    """Keys: confirm "1"; re-enter "2" and cancel "3" only when their edge is given, so a
    caller is never offered a key that leads nowhere."""
    prompt = v.prompt(r, "prompt")
    if prompt is None:
        return None
    on_reenter, on_cancel = v.edge(r, "on_reenter"), v.edge(r, "on_cancel")
    keys = {
        "confirm": v.key(r, "confirm_key", "1") or "1",
        "reenter": v.key(r, "reenter_key", "2") if on_reenter else None,
        "cancel": v.key(r, "cancel_key", "3") if on_cancel else None,
    }
    _check_keys(r, b, keys)
    return Confirm(
        b.id,
        b.span,
        b.description,
        prompt,
        confirm_key=keys["confirm"] or "1",
        reenter_key=keys["reenter"],
        cancel_key=keys["cancel"],
        timeout=v.duration(r, "timeout", CONFIRM_TIMEOUT),
        max_retries=r.whole("max_retries", MAX_RETRIES),
        retry_prompt=v.prompt(r, "retry_prompt"),
        no_input_prompt=v.prompt(r, "no_input_prompt"),
        no_match_prompt=v.prompt(r, "no_match_prompt"),
        next=v.edge(r, "next"),
        on_reenter=on_reenter,
        on_cancel=on_cancel,
        on_no_input=v.edge(r, "on_no_input"),
        global_keys=global_keys(r),
    )


def _check_keys(r: Reader, b: Base, keys: dict[str, str | None]) -> None:
    """FL307: each role of a confirm node has its own key. The role to change is the one
    whose key is written (a default key is never the mistake)."""
    seen: dict[str, str] = {}
    for role, key in keys.items():
        if key is None:
            continue
        if key in seen:
            first = seen[key]
            blamed = role if r.has(f"{role}_key") or not r.has(f"{first}_key") else first
            free = next(k for k in "1234567890*#" if k not in keys.values())
            r.ctx.report(
                "FL307",
                f"confirm node '{b.id}' uses key '{key}' for both {first} and {role}",
                r.span(f"{blamed}_key"),
                f'give {blamed}_key a key of its own, e.g. {blamed}_key: "{free}"',
                r.at(f"{blamed}_key"),
            )
        seen.setdefault(key, role)


def branch(r: Reader, b: Base) -> Branch | None:
    cases = []
    raw = r.get("cases")
    for i, item in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(item, dict):
            continue
        case = Reader(r.ctx, item, (*r.path, "cases", i))
        condition = v.field_expression(case, "if")
        target = v.edge(case, "next", label=str(item.get("if")))
        if condition is not None and target is not None:
            cases.append(Case(condition, target))
        elif target is not None:
            r.ctx.drop_edge(r.path, target.target)
    return Branch(b.id, b.span, b.description, tuple(cases), v.edge(r, "else"))


def set_(r: Reader, b: Base) -> Set | None:
    return Set(b.id, b.span, b.description, v.assignments(r, "assign"), v.edge(r, "next"))


def lookup(r: Reader, b: Base) -> Lookup | None:
    operation = r.text("operation")
    if operation is None:
        return None
    return Lookup(
        b.id,
        b.span,
        b.description,
        operation,
        r.span("operation"),
        args=v.arguments(r, "args"),
        assign=v.assignments(r, "assign"),
        next=v.edge(r, "next"),
        on_error=v.edge(r, "on_error"),
        on_timeout=v.edge(r, "on_timeout"),
    )


def subflow(r: Reader, b: Base) -> Subflow | None:
    flow = r.text("flow")
    if flow is None:
        return None
    outcomes = tuple(
        Edge(name, target, r.ctx.value_span(path))
        for name, target, path in r.mapping("outcomes")
        if isinstance(target, str)
    )
    return Subflow(
        b.id,
        b.span,
        b.description,
        flow,
        r.span("flow"),
        inputs=v.arguments(r, "inputs"),
        outputs=v.assignments(r, "outputs"),
        outcomes=outcomes,
        next=v.edge(r, "next"),
        on_error=v.edge(r, "on_error"),
    )


def return_(r: Reader, b: Base) -> Return | None:
    return Return(b.id, b.span, b.description, r.text("outcome"), v.arguments(r, "outputs"))


def enqueue(r: Reader, b: Base) -> Enqueue | None:
    queue = r.text("queue")
    if queue is None:
        return None
    return Enqueue(
        b.id,
        b.span,
        b.description,
        queue,
        r.span("queue"),
        skills=r.strings("skills"),
        priority=v.field_expression(r, "priority") if r.has("priority") else None,
        data=v.arguments(r, "data"),
        max_wait=v.optional_duration(r, "max_wait"),
        next=v.edge(r, "next"),
        on_overflow=v.edge(r, "on_overflow"),
        on_timeout=v.edge(r, "on_timeout"),
        on_no_agents=v.edge(r, "on_no_agents"),
    )


def transfer(r: Reader, b: Base) -> Transfer | None:
    to = v.field_expression(r, "to")
    if to is None:
        return None
    mode = r.text("mode", "bridge")
    return Transfer(
        b.id,
        b.span,
        b.description,
        to,
        mode="blind" if mode == "blind" else "bridge",
        data=v.arguments(r, "data"),
        timeout=v.duration(r, "timeout", TRANSFER_TIMEOUT),
        next=v.edge(r, "next"),
        on_failed=v.edge(r, "on_failed"),
    )


def record(r: Reader, b: Base) -> Record | None:
    into = r.text("into")
    if into is None:
        return None
    return Record(
        b.id,
        b.span,
        b.description,
        prompt=v.prompt(r, "prompt"),
        into=into,
        into_span=r.span("into"),
        max_length=v.duration(r, "max_length", RECORD_MAX_LENGTH),
        beep=r.flag("beep", True),
        stop_key=v.key(r, "stop_key", "#"),
        metadata=v.arguments(r, "metadata"),
        next=v.edge(r, "next"),
        on_no_input=v.edge(r, "on_no_input"),
        on_chat=v.edge(r, "on_chat"),
    )


def send(r: Reader, b: Base) -> Send | None:
    channel, to = r.text("channel"), v.field_expression(r, "to")
    document = v.field_expression(r, "document") if r.has("document") else None
    if channel is None or to is None:
        return None
    return Send(
        b.id,
        b.span,
        b.description,
        channel,
        r.span("channel"),
        to,
        message=v.prompt(r, "message"),
        document=document,
        next=v.edge(r, "next"),
        on_error=v.edge(r, "on_error"),
        wait=v.optional_duration(r, "wait"),
        on_pending=v.edge(r, "on_pending"),
    )


def schedule(r: Reader, b: Base) -> Schedule | None:
    calendar = r.text("calendar")
    if calendar is None:
        return None
    return Schedule(
        b.id,
        b.span,
        b.description,
        calendar,
        r.span("calendar"),
        open=v.edge(r, "open"),
        closed=v.edge(r, "closed"),
        holiday=v.edge(r, "holiday"),
    )


def language(r: Reader, b: Base) -> Language | None:
    name = r.text("language")
    if name is None:
        return None
    return Language(b.id, b.span, b.description, name, v.edge(r, "next"), r.span("language"))


def log(r: Reader, b: Base) -> Log | None:
    message = v.template(r.ctx, r.get("message"), r.at("message"))
    if message is None:
        return None
    return Log(b.id, b.span, b.description, message, v.edge(r, "next"))


def hangup(r: Reader, b: Base) -> Hangup | None:
    return Hangup(b.id, b.span, b.description, v.prompt(r, "prompt"))


BUILDERS: dict[str, Callable[[Reader, Base], Node | None]] = {
    "say": say,
    "menu": menu,
    "collect": collect,
    "confirm": confirm,
    "branch": branch,
    "set": set_,
    "lookup": lookup,
    "subflow": subflow,
    "return": return_,
    "enqueue": enqueue,
    "transfer": transfer,
    "record": record,
    "send": send,
    "schedule": schedule,
    "language": language,
    "log": log,
    "hangup": hangup,
}
