"""Where a flow reads and writes values: one walk over every node kind, shared by checks.

A `Site` is one expression or template with what happens to its value (spoken, logged,
sent, shown to an agent...), which is what the secret checks need (a flow's `context` is
shown to an agent too); `writes` lists every
variable a node assigns. The `match` is exhaustive, so a new node kind is a type error here
until its expressions are listed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import assert_never

from ivr.flowlang.diagnostics import Span
from ivr.flowlang.expressions import Expr, Template
from ivr.flowlang.ir import (
    Argument,
    Branch,
    Collect,
    Confirm,
    Enqueue,
    Flow,
    Hangup,
    Language,
    Log,
    Lookup,
    Menu,
    Node,
    Prompt,
    Record,
    Return,
    Say,
    Schedule,
    Send,
    Set,
    Subflow,
    Transfer,
)

SPOKEN = "spoken"
LOGGED = "logged"
SENT = "sent"
STORED = "stored with the recording"
SCREEN = "shown on the agent's screen"
DIALLED = "dialled and written to the call record"


@dataclass(frozen=True)
class Site:
    """One expression or template of a node (or of the flow's `context`, with no node);
    `exposure` says where its value goes."""

    node: Node | None
    value: Expr | Template
    what: str
    exposure: str | None = None
    extra_names: frozenset[str] = frozenset()
    callee_scope: bool = False


@dataclass(frozen=True)
class Write:
    """A variable a node assigns."""

    node: Node
    name: str
    span: Span
    source: Expr | None = None


def flow_sites(flow: Flow) -> Iterator[Site]:
    for node in flow.nodes.values():
        yield from node_sites(node)
    for item in flow.context:
        yield Site(None, item.value, f"the context field '{item.name}'", SCREEN)


def flow_writes(flow: Flow) -> Iterator[Write]:
    for node in flow.nodes.values():
        yield from node_writes(node)


def prompt_sites(node: Node, prompt: Prompt | None, what: str, exposure: str = SPOKEN) -> Iterator[Site]:
    if prompt is None:
        return
    for language, text in prompt.by_language.items():
        if text.template is not None:
            yield Site(node, text.template, f"{what} ({language})", exposure)
        if text.chat is not None:
            yield Site(node, text.chat, f"{what} ({language}, in a chat)", exposure)


def _args(node: Node, args: tuple[Argument, ...], what: str, exposure: str | None = None) -> Iterator[Site]:
    for arg in args:
        yield Site(node, arg.expr, f"{what} '{arg.name}'", exposure)


def node_sites(node: Node) -> Iterator[Site]:
    """Every expression and template of `node`."""
    for prompt in node.prompts():
        yield from prompt_sites(node, prompt, "the prompt")
    match node:
        case Say() | Menu() | Confirm() | Hangup() | Schedule() | Language():
            return
        case Collect(valid=valid):
            if valid is not None:
                yield Site(node, valid, "the `valid` check")
        case Branch(cases=cases):
            for case in cases:
                yield Site(node, case.condition, "a case condition")
        case Set(assignments=assignments):
            for a in assignments:
                yield Site(node, a.expr, f"the value of '{a.variable}'")
        case Lookup(args=args, assign=assign):
            yield from _args(node, args, "the argument")
            for a in assign:
                yield Site(node, a.expr, f"the value of '{a.variable}'", extra_names=frozenset({"result"}))
        case Subflow(inputs=inputs, outputs=outputs):
            yield from _args(node, inputs, "the input")
            for a in outputs:
                yield Site(node, a.expr, f"the output for '{a.variable}'", callee_scope=True)
        case Return(outputs=outputs):
            yield from _args(node, outputs, "the output")
        case Enqueue(priority=priority, data=data):
            if priority is not None:
                yield Site(node, priority, "the priority")
            yield from _args(node, data, "the screen-pop field", SCREEN)
        case Transfer(to=to, data=data):
            yield Site(node, to, "the transfer target", DIALLED)
            yield from _args(node, data, "the screen-pop field", SCREEN)
        case Record(metadata=metadata):
            yield from _args(node, metadata, "the metadata field", STORED)
        case Send(to=to, message=message, document=document):
            yield Site(node, to, "the address", SENT)
            yield from prompt_sites(node, message, "the message", SENT)
            if document is not None:
                yield Site(node, document, "the document", SENT)
        case Log(message=message):
            yield Site(node, message, "the log message", LOGGED)
        case _:
            assert_never(node)


def node_writes(node: Node) -> Iterator[Write]:
    """Every variable `node` assigns (lookup and subflow assignments read other scopes)."""
    match node:
        case Collect(into=into, into_span=span) | Record(into=into, into_span=span):
            yield Write(node, into, span)
        case Set(assignments=assignments):
            for a in assignments:
                yield Write(node, a.variable, a.span, a.expr)
        case Lookup(assign=assignments) | Subflow(outputs=assignments):
            for a in assignments:
                yield Write(node, a.variable, a.span)
        case (
            Say() | Menu() | Confirm() | Branch() | Return() | Enqueue() | Transfer() | Send()
            | Schedule() | Language() | Log() | Hangup()
        ):  # fmt: skip
            return
        case _:
            assert_never(node)
