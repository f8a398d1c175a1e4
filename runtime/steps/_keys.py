"""Global keys at run time: which keys work at this menu, collect or confirm, and what
pressing one does (docs/language.md, "Global keys").

`enter` is called as an input node starts: it notes the node in the call's history and
works out the node's keys (`ivr.flowlang.globalkeys.active_keys`). A node's own keys come
first (a menu option, a confirm key); in a collect, only the key alone is the global key.

- `goto` takes an edge, labelled with the key's name, to a node of the running flow.
- `back` goes to the previous menu or collect on the call's path, in a flow still running
  (this one or one that called it), skipping earlier visits of this node. Confirm nodes are
  never a target: going back to a read-back would repeat what it confirmed. When that node
  is in a calling flow, the flows above it end (`BackTo`) and it continues there. With no
  such node, `back` does nothing here (the key counts as one the node does not take).
- `repeat` plays the node's prompt again without counting a try (handled by `_ask`).

The call record notes only the key's name ("agent"), never the key, so a secret entry left
with a global key shows nothing of what was typed.
"""

from __future__ import annotations

from dataclasses import dataclass

from ivr.flowlang.globalkeys import ActiveKey, active_keys
from ivr.flowlang.ir import Edge, Flow, InputNode, Service
from ivr.runtime.context import Asked, CallContext, Frame
from ivr.runtime.outcomes import BackTo, StepResult


@dataclass(frozen=True, slots=True)
class Pressed:
    """The caller answered the node with a global key."""

    key: ActiveKey


@dataclass(frozen=True, slots=True)
class NodeKeys:
    """The global keys in force at one input node, by key, and where `back` leads."""

    by_key: dict[str, ActiveKey]
    back: tuple[int, Frame, str] | None

    def pressed(self, key: str) -> Pressed | None:
        found = self.by_key.get(key)
        return Pressed(found) if found is not None else None

    def shown(self) -> tuple[tuple[str, str], ...]:
        """(key, name) of each global key here, for legs that show them (a chat's buttons)."""
        return tuple((key, active.name) for key, active in self.by_key.items())

    def alone(self, keys: str, terminated: bool, terminator: str | None) -> Pressed | None:
        """A collect's entry that is a global key: the key alone, or the terminator first."""
        if not keys and terminated and terminator is not None:
            return self.pressed(terminator)
        return self.pressed(keys) if len(keys) == 1 else None


def enter(call: CallContext, frame: Frame, node: InputNode) -> NodeKeys:
    """Note `node` in the call's history and work out its global keys."""
    back = note_asked(call, frame, node.id, node.kind)
    with_back, without_back = _keys_at(call.project.service, frame.flow, node)
    return NodeKeys(without_back if back is None else with_back, back)


def note_asked(call: CallContext, frame: Frame, node_id: str, kind: str) -> tuple[int, Frame, str] | None:
    """Add an input node to the call's history; (history index, frame, node) of where `back`
    goes from it, or None.

    In constant time, not by walking the history (a caller replaying a menu a thousand
    times made every entry walk all the earlier ones): the latest earlier menu or collect
    is the last entry's `latest`; if that is this very node, where `back` went from it
    then is where it goes now. The same node entered again straight after itself replaces
    its entry (`back` finds the same target either way), so such a loop keeps the history
    short. Entries of a flow that ended are taken off as it ends (`CallContext.pop_frame`); should
    one be found all the same, the history is walked as before."""
    asked = call.asked
    last = asked[-1] if asked else None
    if last is not None and last.frame is frame and last.node == node_id:
        asked.pop()
        last = asked[-1] if asked else None
    candidate = None if last is None else last.latest
    if candidate is not None:
        found = asked[candidate]
        if found.frame is frame and found.node == node_id:
            candidate = found.back
    latest = (None if last is None else last.latest) if kind == "confirm" else len(asked)
    asked.append(Asked(frame, node_id, kind, candidate, latest))
    if candidate is None:
        return None
    target = asked[candidate]
    if not any(target.frame is running for running in call.stack):
        return _walk_back(call, frame, node_id)
    return candidate, target.frame, target.node


_KeysByKey = tuple[dict[str, ActiveKey], dict[str, ActiveKey]]
_LIMIT = 100_000
# (service, flow, node) by identity -> the node's keys with and without a `back` target: the
# compiled flow never changes, so the keys are merged once, not at every input node entered.
_seen: dict[tuple[int, int, int], tuple[Service | None, Flow, InputNode, _KeysByKey]] = {}


def _keys_at(service: Service | None, flow: Flow, node: InputNode) -> _KeysByKey:
    """The keys in force at `node` by key (shared by calls: read, never changed), when a
    `back` target exists and when none does."""
    ident = (id(service), id(flow), id(node))
    seen = _seen.get(ident)
    if seen is not None and seen[0] is service and seen[1] is flow and seen[2] is node:
        return seen[3]
    keys = active_keys(service, flow, node)
    found = (_by_key(keys, flow, has_back=True), _by_key(keys, flow, has_back=False))
    if len(_seen) >= _LIMIT:
        _seen.clear()
    _seen[ident] = (service, flow, node, found)
    return found


def _by_key(keys: tuple[ActiveKey, ...], flow: Flow, *, has_back: bool) -> dict[str, ActiveKey]:
    by_key: dict[str, ActiveKey] = {}
    for key in keys:
        if key.action == "back" and not has_back:
            continue
        if key.action == "goto" and key.target not in flow.nodes:
            continue  # the checker reports it (FL313); the key does nothing here
        by_key.setdefault(key.key, key)
    return by_key


def _walk_back(call: CallContext, frame: Frame, node_id: str) -> tuple[int, Frame, str] | None:
    """(history index, frame, node) of the input node `back` goes to from `node_id`, found
    by walking the history from its end (the fallback of `note_asked`)."""
    if len(call.asked) < 2:  # the first input node of the call: nowhere to go back to
        return None
    live = {id(f) for f in call.stack}
    for index in range(len(call.asked) - 2, -1, -1):
        entry = call.asked[index]
        if id(entry.frame) not in live or entry.kind == "confirm":
            continue
        if entry.frame is frame and entry.node == node_id:
            continue
        return index, entry.frame, entry.node
    return None


async def follow(
    call: CallContext, frame: Frame, node: InputNode, keys: NodeKeys, pressed: Pressed
) -> StepResult:
    """Where a global key (other than `repeat`) leads from `node`."""
    key = pressed.key
    await call.event("input", node, outcome="global_key", key=key.name, action=key.action)
    if key.action == "goto" and key.target is not None:
        return Edge(key.name, key.target, node.span)
    if key.action == "back" and keys.back is not None:
        index, target_frame, target = keys.back
        del call.asked[index:]  # the target is entered afresh
        if target_frame is frame:
            return Edge(key.name, target, node.span)
        return BackTo(target_frame, target, key.name)
    raise AssertionError(f"global key '{key.name}' ({key.action}) cannot be followed from '{node.id}'")
