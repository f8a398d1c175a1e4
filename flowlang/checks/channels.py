"""What a channel cannot do (FL960): a web chat carries no voice.

Every flow a service answers on the phone also runs in its web chat (docs/channels.md), so
a `record` node there would ask a chat visitor for a voice message that cannot come. The
node's `on_chat` edge gives chats their own path (a typed call-back number, an agent);
without one `ivr check` warns. Outbound flows never run in a chat and are left alone.
"""

from __future__ import annotations

from collections.abc import Iterator

from ivr.flowlang.checks.context import Checking, warning
from ivr.flowlang.diagnostics import Diagnostic
from ivr.flowlang.ir import Flow, Record


def check_flow(flow: Flow, c: Checking) -> Iterator[Diagnostic]:
    if flow.outbound is not None:
        return
    for node in flow.nodes.values():
        if isinstance(node, Record) and node.on_chat is None:
            yield warning(
                "FL960",
                f"record node '{node.id}' asks for a voice message, which a web chat cannot carry",
                node.span,
                "give chats another path: `on_chat: <node>` (e.g. a typed call-back number or an "
                "agent); without it a chat records nothing and takes `on_no_input`",
                node,
            )
