"""Queue-callback checks (FL730-FL732): an `enqueue` node's `callback:` offer can be heard,
has a caller to call back, and its key means one thing.

- FL730 (warning): `callback.after` is not below the node's `max_wait`, so the caller times
  out before the offer;
- FL731: a callback offer in an outbound flow (the callee did not call in);
- FL732 (warning): the callback key is a global key of the flow (or the service's);
- FL733 (warning): the service declares no trunk, so nobody could be called back (the
  queue plays no offer then).
"""

from __future__ import annotations

from collections.abc import Iterator

from ivr.flowlang.checks.context import Checking, error, warning
from ivr.flowlang.diagnostics import Diagnostic
from ivr.flowlang.globalkeys import levels, merge
from ivr.flowlang.ir import Enqueue, Flow


def check_flow(flow: Flow, c: Checking) -> Iterator[Diagnostic]:
    global_keys = {m.key: m.name for m in merge(levels(c.project.service, flow, None)).values() if m.key}
    for node in flow.nodes.values():
        if not isinstance(node, Enqueue) or node.callback is None:
            continue
        offer = node.callback
        if node.max_wait is not None and offer.after >= node.max_wait:
            message = (
                f"node '{node.id}' offers a callback after {offer.after}s, but callers leave the queue "
                f"after {node.max_wait}s (max_wait): nobody hears the offer"
            )
            yield warning("FL730", message, offer.span, "offer it earlier, or raise `max_wait`", node)
        if flow.outbound is not None:
            message = f"node '{node.id}' offers a callback in an outbound flow, whose callee did not call in"
            yield error("FL731", message, offer.span, "leave `callback` out of outbound flows", node)
        service = c.project.service
        if service is not None and not service.trunks and flow.outbound is None:
            message = (
                f"node '{node.id}' offers a callback, but the service declares no trunk to call back through"
            )
            hint = "declare a trunk under `trunks:` (docs/outbound.md); until then no offer plays"
            yield warning("FL733", message, offer.span, hint, node)
        if offer.key in global_keys:
            message = (
                f"node '{node.id}' offers the callback on key {offer.key}, which is the global key "
                f"'{global_keys[offer.key]}'"
            )
            yield warning("FL732", message, offer.span, "pick a key no global key uses", node)
