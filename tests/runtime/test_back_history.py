"""The history the global `back` key walks (`ivr.runtime.steps._keys.note_asked`): worked out
in constant time from indexes kept with each entry, it must find exactly what walking the
whole history finds (the rule in docs/language.md, "Global keys"), whatever the call did:
menus, collects and confirms entered in any order, subflows started and ended, and `back`
itself. And a caller looping in one menu, or through a subflow, keeps the history short."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine_harness import Harness, flow, project
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.runtime.context import CallContext, Frame
from ivr.runtime.engine import run_flow
from ivr.runtime.steps._keys import note_asked
from ivr.runtime.testing import MemoryCallLeg

FLOW = flow(
    """
    flow: main
    languages: [en]
    start: bye
    nodes:
      bye: {type: hangup}
    """
)
Target = tuple[Frame, str] | None


@dataclass
class Reference:
    """The rule as first written: every input node entered is kept, and `back` walks them all
    from the newest, skipping this node's own visits, confirms and flows no longer running."""

    stack: list[Frame]
    asked: list[tuple[Frame, str, str]] = field(default_factory=list)

    def enter(self, frame: Frame, node: str, kind: str) -> tuple[int, Target]:
        self.asked.append((frame, node, kind))
        live = {id(f) for f in self.stack}
        for index in range(len(self.asked) - 2, -1, -1):
            entry_frame, entry_node, entry_kind = self.asked[index]
            if id(entry_frame) not in live or entry_kind == "confirm":
                continue
            if entry_frame is frame and entry_node == node:
                continue
            return index, (entry_frame, entry_node)
        return -1, None


def new_call() -> CallContext:
    harness = Harness(project(FLOW))
    return CallContext(
        MemoryCallLeg(), harness.engine.ports, harness.project, "en", run_flow, [Frame.start(FLOW, {})]
    )


KINDS = {"a": "menu", "b": "collect", "c": "confirm", "d": "confirm"}  # a node has one kind
Enter = st.sampled_from([("enter", node, kind) for node, kind in KINDS.items()])
Step = st.one_of(Enter, st.just(("push",)), st.just(("pop",)), st.just(("back",)))


@settings(max_examples=300, deadline=None)
@given(st.lists(Step, max_size=60))
def test_back_finds_what_walking_the_whole_history_finds(steps: list[tuple[str, ...]]) -> None:
    call = new_call()
    reference = Reference(list(call.stack))
    last: tuple[int, Target] = (-1, None)  # the newest input node's `back`: (history index, target)
    last_kept: tuple[int, Frame, str] | None = None
    for step in steps:
        if step[0] == "enter":
            last, last_kept = _enter(call, reference, step[1], step[2])
        elif step[0] == "push":
            frame = Frame.start(FLOW, {})
            call.stack.append(frame)
            reference.stack.append(frame)
            last, last_kept = (-1, None), None  # `back` is pressed at an input node
        elif step[0] == "pop" and len(call.stack) > 1:
            call.pop_frame()
            reference.stack.pop()
            last, last_kept = (-1, None), None
        elif step[0] == "back" and last_kept is not None and last[1] is not None:
            # as `_keys.follow` and the subflow step do: the history from the target on is
            # dropped, the flows above the target's end, and the target is entered afresh
            index, target_frame, target_node = last_kept
            kind = call.asked[index].kind
            del call.asked[index:]
            del reference.asked[last[0] :]
            while call.stack[-1] is not target_frame:
                call.pop_frame()
                reference.stack.pop()
            last, last_kept = _enter(call, reference, target_node, kind)


def _enter(
    call: CallContext, reference: Reference, node: str, kind: str
) -> tuple[tuple[int, Target], tuple[int, Frame, str] | None]:
    frame = call.stack[-1]
    kept = note_asked(call, frame, node, kind)
    expected = reference.enter(frame, node, kind)
    found: Target = None if kept is None else (kept[1], kept[2])
    assert found == expected[1]
    if kept is not None:
        assert call.asked[kept[0]][:2] == (kept[1], kept[2])
    return expected, kept


def test_a_caller_replaying_one_menu_keeps_the_history_short() -> None:
    call = new_call()
    top = call.stack[0]
    note_asked(call, top, "ask", "collect")
    for _ in range(1000):
        kept = note_asked(call, top, "wait", "menu")
        assert kept is not None and kept[1:] == (top, "ask")
    assert len(call.asked) == 2


def test_a_flow_that_ended_leaves_the_history() -> None:
    call = new_call()
    top = call.stack[0]
    note_asked(call, top, "main_menu", "menu")
    for _ in range(200):  # the caller goes into a subflow's menu and out again, 200 times
        call.stack.append(Frame.start(FLOW, {}))
        note_asked(call, call.stack[-1], "pick", "menu")
        note_asked(call, call.stack[-1], "sure", "confirm")
        call.pop_frame()
        kept = note_asked(call, top, "main_menu", "menu")
        assert kept is None  # the subflow's menu is gone with it; main_menu is this node
    assert [entry.node for entry in call.asked] == ["main_menu"]
