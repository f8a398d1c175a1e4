"""Who hears whom in one agent conversation: pure rules, no I/O.

Place: under `ivr.adapters.cti.control.Conversation`, which keeps a `Mix` per call and asks
its connector's media (the SIP conference bridge, or the in-memory desk) to carry out
`links(mix)` and `music(mix)` after every change. Three parties at most:

- `caller`: the customer;
- `agent`: the agent who holds the call (absent after a hand-off to a number);
- `other`: a consulted agent or number, or the number the caller was handed to.

The agent talks with the caller (`talk`), or with `other` while the caller waits
(`consult`), or everyone with everyone (`conference`). A held caller hears music and
nobody hears the caller; a muted agent is heard by nobody (and not recorded). A caller the
agent sent into a flow (`in_flow`) hears that flow's prompts only: no music, nobody hears
the caller (the keys may be a PIN), and the agent waits.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import permutations
from typing import Literal

Role = Literal["caller", "agent", "other"]
Mode = Literal["talk", "consult", "conference"]
Link = tuple[Role, Role]  # (speaker, listener)
ROLES: tuple[Role, ...] = ("caller", "agent", "other")


@dataclass(frozen=True, slots=True)
class Mix:
    present: frozenset[Role] = frozenset({"caller", "agent"})  # lines with audio up
    mode: Mode = "talk"
    held: bool = False
    muted: bool = False
    in_flow: bool = False  # the caller is in a flow the agent sent it to

    def with_(self, **changes: object) -> Mix:
        return replace(self, **changes)  # type: ignore[arg-type]


def group(mix: Mix) -> frozenset[Role]:
    """The parties who talk together now."""
    if "agent" not in mix.present:
        members = {"caller", "other"}  # the caller was handed on
    elif mix.mode == "conference":
        members = set(ROLES)
    elif mix.mode == "consult":
        members = {"agent", "other"}
    else:
        members = {"caller", "agent"}
    if mix.held or mix.in_flow:
        members.discard("caller")
    return frozenset(r for r in ROLES if r in members and r in mix.present)


def links(mix: Mix) -> frozenset[Link]:
    """Every (speaker, listener) pair the audio bridge must carry."""
    talking = group(mix)
    return frozenset(
        (a, b) for a, b in permutations(talking, 2) if len(talking) > 1 and not (mix.muted and a == "agent")
    )


def music(mix: Mix) -> bool:
    """Whether the caller hears hold music (held, waiting through a consultation, or alone
    while the number it is handed to rings)."""
    talking = group(mix)
    if mix.in_flow:
        return False  # the flow's prompts play to the caller
    return "caller" in mix.present and ("caller" not in talking or len(talking) < 2)


def recorded(mix: Mix) -> frozenset[Role]:
    """Whose voice the conversation's recording takes: every party present, except a muted
    agent."""
    return frozenset(r for r in mix.present if not (mix.muted and r == "agent"))


def dtmf_targets(mix: Mix) -> frozenset[Role]:
    """Where the agent's keypad sends tones: the parties the agent talks with."""
    talking = group(mix)
    return talking - {"agent"} if "agent" in talking else frozenset()
