"""Meaning-aware suggestions: "did you mean" by what a word means, not only how it is spelt.

Node kinds name the same idea differently: what a menu calls `on_no_match` a collect calls
`on_invalid`; a transfer fails by `on_failed` where a lookup has `on_error`. Authors also
bring words from other tools (`gather`, `dial`, `goto`, `otherwise`). Spelling distance
cannot find `on_invalid` from `on_no_match`; these tables can. The schema stage (FL102,
FL106), the graph check (FL301) and the subflow check (FL610) ask here first and fall back
to spelling (`did_you_mean`).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence

from ivr.flowlang.diagnostics import did_you_mean

# One idea per group: the field that means it, per node kind.
SAME_MEANING: tuple[Mapping[str, str], ...] = (
    {"menu": "on_no_match", "collect": "on_invalid"},
    {"menu": "no_match_prompt", "confirm": "no_match_prompt", "collect": "invalid_prompt"},
    {
        "menu": "timeout",
        "confirm": "timeout",
        "collect": "first_digit_timeout",
        "transfer": "timeout",
        "enqueue": "max_wait",
    },
    {"lookup": "on_error", "subflow": "on_error", "send": "on_error", "transfer": "on_failed"},
    {"collect": "terminator", "record": "stop_key"},
    {"lookup": "args", "subflow": "inputs"},
    {"lookup": "assign", "subflow": "outputs", "set": "assign"},
    {
        "say": "prompt",
        "menu": "prompt",
        "collect": "prompt",
        "confirm": "prompt",
        "record": "prompt",
        "hangup": "prompt",
        "send": "message",
        "log": "message",
    },
    {"enqueue": "data", "transfer": "data", "record": "metadata"},
    {
        "branch": "else",
        "say": "next",
        "collect": "next",
        "confirm": "next",
        "set": "next",
        "lookup": "next",
        "record": "next",
        "send": "next",
        "language": "next",
        "log": "next",
        "subflow": "next",
        "enqueue": "next",
        "transfer": "next",
    },
)

# Fields with no one-to-one counterpart: what to write instead, per node kind.
INSTEAD: Mapping[tuple[str, str], str] = {
    ("options", "confirm"): "a confirm has three keys with their edges: `confirm_key` + `next`, "
    "`reenter_key` + `on_reenter`, `cancel_key` + `on_cancel`",
    (
        "options",
        "collect",
    ): "a collect takes digits into a variable (`into`); to offer choices, use a menu node",
    ("into", "menu"): "a menu does not store the key: each key goes to its own node under `options`",
    ("next", "menu"): "a menu goes on by the key pressed: give each key a node under `options`",
    ("next", "branch"): "a branch goes on by its `cases`; when none holds it takes `else`",
    ("valid", "menu"): "a menu accepts only the keys under `options`; others are a no-match",
    ("on_invalid", "confirm"): "a confirm retries a wrong key up to `max_retries`, then takes `on_no_input`",
    ("on_no_match", "confirm"): "a confirm retries a wrong key up to `max_retries`, then takes `on_no_input`",
}

# Words from other tools and from everyday speech, and what the language calls them.
SYNONYMS: Mapping[str, tuple[str, ...]] = {
    "goto": ("next",),
    "then": ("next",),
    "go": ("next",),
    "next_node": ("next",),
    "default": ("else",),
    "otherwise": ("else",),
    "condition": ("if",),
    "when": ("if",),
    "retries": ("max_retries",),
    "max_tries": ("max_retries",),
    "attempts": ("max_retries",),
    "variable": ("into", "assign"),
    "var": ("into", "assign"),
    "save_as": ("into",),
    "store": ("into",),
    "target": ("to", "into"),
    "text": ("prompt", "message"),
    "say": ("prompt", "message"),
    "speech": ("prompt",),
    "tts": ("prompt",),
    "number": ("to",),
    "destination": ("to",),
    "address": ("to",),
    "uri": ("to",),
    "skill": ("skills",),
    "queue_name": ("queue",),
    "on_timeout": ("on_no_input", "max_wait"),
    "on_fail": ("on_error", "on_failed"),
    "on_failure": ("on_error", "on_failed"),
    "on_success": ("next",),
    "min_digits": ("min_length",),
    "max_digits": ("max_length",),
    "digits": ("max_length",),
    "interdigit_timeout": ("inter_digit_timeout",),
    "finish_on_key": ("terminator",),
    "parameters": ("args", "inputs"),
    "params": ("args", "inputs"),
    "arguments": ("args", "inputs"),
    "results": ("assign", "outputs"),
}

NODE_TYPE_SYNONYMS: Mapping[str, str] = {
    "play": "say",
    "speak": "say",
    "prompt": "say",
    "announce": "say",
    "tts": "say",
    "gather": "collect",
    "input": "collect",
    "getdigits": "collect",
    "get_digits": "collect",
    "dtmf": "collect",
    "choice": "menu",
    "ivr": "menu",
    "options": "menu",
    "if": "branch",
    "switch": "branch",
    "condition": "branch",
    "decision": "branch",
    "assign": "set",
    "setvar": "set",
    "variable": "set",
    "query": "lookup",
    "fetch": "lookup",
    "api": "lookup",
    "http": "lookup",
    "sql": "lookup",
    "call": "subflow",
    "gosub": "subflow",
    "include": "subflow",
    "queue": "enqueue",
    "acd": "enqueue",
    "agent": "enqueue",
    "dial": "transfer",
    "forward": "transfer",
    "bridge": "transfer",
    "refer": "transfer",
    "voicemail": "record",
    "recording": "record",
    "sms": "send",
    "email": "send",
    "notify": "send",
    "hours": "schedule",
    "calendar": "schedule",
    "time": "schedule",
    "lang": "language",
    "end": "hangup",
    "exit": "hangup",
    "bye": "hangup",
    "disconnect": "hangup",
    "goodbye": "hangup",
}

# Edge targets people write meaning "the node that does this".
TARGET_MEANINGS: Mapping[str, tuple[str, ...]] = {
    "end": ("hangup",),
    "exit": ("hangup", "return"),
    "bye": ("hangup",),
    "goodbye": ("hangup",),
    "hangup": ("hangup",),
    "quit": ("hangup",),
    "stop": ("hangup",),
    "finish": ("hangup", "return"),
    "back": ("return",),
    "return": ("return",),
    "agent": ("enqueue", "transfer"),
    "operator": ("enqueue", "transfer"),
    "human": ("enqueue", "transfer"),
    "menu": ("menu",),
    "main": ("menu",),
    "home": ("menu",),
    "start": ("menu",),
}

OUTCOME_MEANINGS: tuple[frozenset[str], ...] = (
    frozenset({"ok", "success", "succeeded", "done", "verified", "passed", "yes", "valid"}),
    frozenset({"failed", "fail", "failure", "error", "no", "invalid", "wrong"}),
    frozenset({"locked", "locked_out", "blocked", "lockout"}),
    frozenset({"cancel", "cancelled", "canceled", "abort", "aborted"}),
    frozenset({"agent", "operator", "human", "transfer"}),
    frozenset({"menu", "main", "back", "home", "main_menu"}),
)


def field_hint(name: str, kind: str | None, allowed: Sequence[str]) -> str | None:
    """What a node of `kind` calls the field the author wrote as `name`."""
    if kind is not None:
        instead = INSTEAD.get((name, kind))
        if instead is not None:
            return instead
        for group in SAME_MEANING:
            if name in group.values() and kind in group and group[kind] != name and group[kind] in allowed:
                return f"in a {kind} node this is `{group[kind]}`"
    for candidate in SYNONYMS.get(name.lower(), ()):
        if candidate in allowed:
            return f"did you mean `{candidate}`?"
    return did_you_mean(name, allowed)


def node_type_hint(written: str, kinds: Iterable[str]) -> str | None:
    known = list(kinds)
    meant = NODE_TYPE_SYNONYMS.get(written.strip().lower())
    if meant in known:
        return f"did you mean '{meant}'?"
    return did_you_mean(written, known)


def meant_target(target: str, nodes: Mapping[str, str]) -> str | None:
    """The one node an edge to a missing `target` most likely means, if there is one."""
    spelt = difflib.get_close_matches(target, list(nodes), n=1, cutoff=0.6)
    if spelt:
        return spelt[0]
    word = target.strip().lower()
    for kind in TARGET_MEANINGS.get(word) or ((word,) if word in nodes.values() else ()):
        matches = [node for node, node_kind in nodes.items() if node_kind == kind]
        if matches:
            return matches[0] if len(matches) == 1 else None
    return None


def target_hint(target: str, nodes: Mapping[str, str]) -> str | None:
    """For an edge to a node that does not exist: the node with that spelling, else the
    node that does what the word means (`next: end` -> the flow's hangup node). `nodes` maps
    each node id to its kind."""
    spelt = did_you_mean(target, nodes)
    if spelt:
        return spelt
    word = target.strip().lower()
    kinds = TARGET_MEANINGS.get(word) or ((word,) if word in nodes.values() else ())
    for kind in kinds:
        matches = [node for node, node_kind in nodes.items() if node_kind == kind]
        if len(matches) == 1:
            return f"the {kind} node of this flow is '{matches[0]}'"
        if matches:
            return f"the {kind} nodes of this flow: {', '.join(repr(m) for m in matches[:4])}"
    return None


def label_hint(label: str, labels: Iterable[str]) -> str | None:
    """An outcome name the callee returns that means the same as `label` (success -> ok)."""
    known = list(labels)
    spelt = did_you_mean(label, known)
    if spelt:
        return spelt
    for group in OUTCOME_MEANINGS:
        if label.lower() in group:
            same = [name for name in known if name.lower() in group]
            if same:
                return f"did you mean '{same[0]}'? (it means the same)"
    return None
