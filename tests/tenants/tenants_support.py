"""Builders for hosting folders in tests: small tenants written into a temporary folder, and
the tenants of a hosting file running in-process (no SIP, no TTS)."""

from __future__ import annotations

import textwrap
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio
from asgi_support import serving as serving  # the suites' tests import it from here

from ivr.adapters.hosting.auth import Tokens
from ivr.adapters.hosting.http import HttpApi
from ivr.adapters.hosting.leg import new_call_id
from ivr.adapters.hosting.live import LiveCalls
from ivr.adapters.hosting.plan import plan_hosting
from ivr.adapters.hosting.server import Hosted, Mounts, ServerStatus, open_tenants
from ivr.adapters.hosting.testing import memory_call, shared_parts
from ivr.adapters.storage import open_sqlite_call_records
from ivr.runtime.testing import MemoryCallLeg

HANGUP_FLOW = """\
flow: {name}
languages: [en]
start: hello
nodes:
  hello: {{type: say, prompt: {{en: "Hello from {tenant}."}}, next: bye}}
  bye: {{type: hangup, prompt: {{en: Goodbye.}}}}
"""

# A flow that asks the tenant's module once and says how it went.
PROBE_FLOW = """\
flow: main
languages: [en]
variables:
  answer: {type: map, initial: {}}
start: ask
nodes:
  ask:
    type: lookup
    operation: probe
    args: {caller: call.caller}
    assign: {answer: result}
    next: said
    on_error: failed
    on_timeout: slow
  said: {type: hangup, prompt: {en: "{tenant} answered {answer.value}."}}
  failed: {type: hangup, prompt: {en: "{tenant} failed."}}
  slow: {type: hangup, prompt: {en: "{tenant} timed out."}}
"""

PROBE_SERVICE = """\
module: module.py
operations:
  probe: {{backend: module, params: [caller], returns: [value], timeout: {timeout}, retries: 0}}
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def tenant_folder(
    root: Path,
    name: str,
    numbers: dict[str, str],
    *,
    flows: dict[str, str] | None = None,
    service_extra: str = "",
) -> Path:
    """A folder tenant: service.yaml routing `numbers`, plus `flows` (name -> YAML; default: a
    `main` that greets and hangs up)."""
    folder = root / name
    routes = "".join(f'  "{number}": {flow}\n' for number, flow in numbers.items())
    write(folder / "service.yaml", f"service: {name}\nlanguages: [en]\nnumbers:\n{routes}{service_extra}")
    for flow, text in (flows or {"main": HANGUP_FLOW.format(name="main", tenant=name)}).items():
        write(folder / f"{flow}.yaml", text)
    return folder


def probe_tenant(root: Path, name: str, number: str, module: str, *, timeout: str = "1s") -> Path:
    """A tenant whose `main` asks its one-file module's `probe(ctx, caller)` (see PROBE_FLOW)."""
    folder = tenant_folder(
        root,
        name,
        {number: "main"},
        flows={"main": PROBE_FLOW.replace("{tenant}", name)},
        service_extra=PROBE_SERVICE.format(timeout=timeout),
    )
    write(folder / "module.py", module)
    return folder


def hosting_file(root: Path, tenants: str, extra: str = "") -> Path:
    """`root/hosting.yaml` with the given `tenants:` block (indented YAML text)."""
    body = textwrap.indent(textwrap.dedent(tenants), "  ")
    return write(root / "hosting.yaml", f"hosting: test\n{extra}tenants:\n{body}")


@asynccontextmanager
async def running(root: Path, capacity: int = 50, **parts: Any) -> AsyncIterator[Hosted]:
    """The tenants of `root/hosting.yaml`, started (or unavailable) in-process; `parts` go to
    `shared_parts` (a `live` table, an `agent_line` factory)."""
    plan = plan_hosting(root / "hosting.yaml")
    (root / "var").mkdir(exist_ok=True)
    async with open_sqlite_call_records(root / "var" / "calls.sqlite3") as store:
        shared = shared_parts(store, root / "var", hosting_file=root / "hosting.yaml", **parts)
        async with open_tenants(plan, shared, capacity) as hosted:
            await hosted.wait_started()
            yield hosted


async def converse(
    hosted: Hosted, number: str, steps: list[str], *, caller: str = "13800000000"
) -> MemoryCallLeg:
    """One call to `number` that keys each step once the flow waits for a digit, then hangs up."""
    leg = MemoryCallLeg(call_id=new_call_id(), caller=caller, dialed=number, seconds_per_char=0.0)

    async def caller_side() -> None:
        target = 1
        for keys in [*steps, ""]:
            await leg.wait_for(
                lambda wanted=target: leg.ended or (leg.reads >= wanted and not leg.pending_digits)
            )
            if not keys or leg.ended:
                break
            leg.press(keys)
            target = leg.reads + len(keys)
        leg.hang_up()

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(caller_side)
            await memory_call(hosted.admission, number, leg)
            nursery.cancel_scope.cancel()
    return leg


@asynccontextmanager
async def api_server(root: Path, mounts: Mounts | None = None) -> AsyncIterator[tuple[str, Hosted]]:
    """The tenants of `root/hosting.yaml` behind the real HTTP API on a free port: (url, hosted);
    `mounts` adds routes made from the running tenants, as `serve(mounts=...)` does."""
    live = LiveCalls()
    async with running(root, live=live) as hosted:
        assert hosted.publisher is not None
        status = ServerStatus(hosted.admission, 1024, time.monotonic())
        tokens = Tokens.from_hosting(hosted.publisher.hosting)
        api = HttpApi(status, live, hosted.shared.metrics, hosted.shared.store, hosted.tenants, tokens,
                      hosted.publisher, hosted.publisher.hosting)  # fmt: skip
        app = api.app(mounts(hosted) if mounts else ())
        async with serving(app) as url:
            yield url, hosted
