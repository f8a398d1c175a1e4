"""Isolation between tenants of one server, in-process (no SIP): numbers reach their own
tenant's flows; a tenant's module that fails to load, fails to start, hangs at start, raises,
hangs or is slow harms only that tenant's calls; call records are stamped per tenant."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio
from tenants_support import hosting_file, probe_tenant, running, tenant_folder

from ivr.adapters.hosting import modules
from ivr.adapters.hosting.admission import Admit, Refuse
from ivr.adapters.hosting.testing import memory_call

OK_MODULE = """\
from ivr.runtime.modules import Module

def probe(ctx, caller):
    return {"value": ctx.setting("word", "yes")}

module = Module("ok", operations={"probe": probe})
"""


def said(leg: object) -> list[str]:
    return [p.text for p in getattr(leg, "prompts", [])]


async def test_each_number_reaches_its_own_tenant_and_the_record_names_tenant_and_version(
    tmp_path: Path,
) -> None:
    tenant_folder(tmp_path, "alpha", {"100": "main"})
    tenant_folder(tmp_path, "beta", {"200": "main"})
    hosting_file(
        tmp_path, 'alpha: {folder: alpha, numbers: ["100"]}\nbeta: {folder: beta, numbers: ["200"]}\n'
    )
    async with running(tmp_path) as hosted:
        _, alpha_leg, _ = await memory_call(hosted.admission, "100")
        _, beta_leg, _ = await memory_call(hosted.admission, "200")
        refused, _, _ = await memory_call(hosted.admission, "300")
    assert said(alpha_leg) == ["Hello from alpha.", "Goodbye."]
    assert said(beta_leg) == ["Hello from beta.", "Goodbye."]
    assert refused == Refuse(404, "unknown_number")
    rows = sqlite3.connect(tmp_path / "var" / "calls.sqlite3").execute(
        "SELECT tenant, version, dialed FROM calls ORDER BY dialed"
    )
    assert list(rows) == [("alpha", "v1", "100"), ("beta", "v1", "200")]


async def test_a_module_that_cannot_load_or_start_leaves_only_its_own_numbers_unavailable(
    tmp_path: Path,
) -> None:
    probe_tenant(tmp_path, "broken", "100", "raise ImportError('no such back office')\n")
    probe_tenant(
        tmp_path,
        "refusing",
        "200",
        OK_MODULE.replace(
            'module = Module("ok", operations={"probe": probe})',
            "async def start(ctx):\n    raise RuntimeError('database password rejected')\n\n"
            'module = Module("refusing", operations={"probe": probe}, start=start)',
        ),
    )
    probe_tenant(tmp_path, "healthy", "300", OK_MODULE)
    hosting_file(
        tmp_path,
        'broken: {folder: broken, numbers: ["100"]}\n'
        'refusing: {folder: refusing, numbers: ["200"]}\n'
        'healthy: {folder: healthy, numbers: ["300"]}\n',
    )
    async with running(tmp_path) as hosted:
        states = {t.name: (t.state, t.reason) for t in hosted.tenants}
        broken, _, _ = await memory_call(hosted.admission, "100")
        refusing, _, _ = await memory_call(hosted.admission, "200")
        _, leg, outcome = await memory_call(hosted.admission, "300")
    assert states["broken"][0] == "unavailable" and "no version" in states["broken"][1]
    assert states["refusing"] == (
        "unavailable",
        "module 'refusing' failed to start: RuntimeError: database password rejected",
    )
    assert states["healthy"] == ("serving", "")
    assert broken == Refuse(503, "tenant_unavailable", "broken", 10)
    assert refusing == Refuse(503, "tenant_unavailable", "refusing", 10)
    assert said(leg) == ["healthy answered yes."] and outcome is not None and outcome.how == "completed"


async def test_a_module_start_that_hangs_is_given_up_and_only_that_tenant_waits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(modules, "START_SECONDS", 0.5)
    hanging = OK_MODULE.replace(
        'module = Module("ok", operations={"probe": probe})',
        "import trio\n\nasync def start(ctx):\n    await trio.sleep_forever()\n\n"
        'module = Module("hanging", operations={"probe": probe}, start=start)',
    )
    probe_tenant(tmp_path, "hanging", "100", hanging)
    probe_tenant(tmp_path, "healthy", "300", OK_MODULE)
    hosting_file(
        tmp_path,
        'hanging: {folder: hanging, numbers: ["100"]}\nhealthy: {folder: healthy, numbers: ["300"]}\n',
    )
    with trio.fail_after(10):
        async with running(tmp_path) as hosted:
            _, leg, _ = await memory_call(hosted.admission, "300")
            hung = hosted.tenant("hanging")
    assert (hung.state, hung.reason) == ("unavailable", "module 'hanging' did not start within 0.5 s")
    assert said(leg) == ["healthy answered yes."]


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    """What the hanging module's threads wait on; opened at the end so no thread outlives the test."""
    event = threading.Event()
    yield event
    event.set()


async def test_an_operation_that_raises_hangs_or_is_slow_takes_its_flows_paths_and_spares_the_others(
    tmp_path: Path, gate: threading.Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("builtins.__ivr_test_gate__", gate, raising=False)
    raising = OK_MODULE.replace('return {"value"', 'raise ValueError("ledger corrupt")\n    return {"value"')
    hanging = OK_MODULE.replace(
        '    return {"value"',
        '    import builtins\n    builtins.__ivr_test_gate__.wait()\n    return {"value"',
    )
    slow = """\
import trio
from ivr.runtime.modules import Module

async def probe(ctx, caller):
    await trio.sleep(60)
    return {"value": "late"}

module = Module("slow", operations={"probe": probe})
"""
    probe_tenant(tmp_path, "raising", "100", raising)
    probe_tenant(tmp_path, "hanging", "200", hanging, timeout="300ms")
    probe_tenant(tmp_path, "slow", "300", slow, timeout="300ms")
    probe_tenant(tmp_path, "healthy", "400", OK_MODULE, timeout="5s")
    hosting_file(
        tmp_path,
        'raising: {folder: raising, numbers: ["100"]}\nhanging: {folder: hanging, numbers: ["200"]}\n'
        'slow: {folder: slow, numbers: ["300"]}\nhealthy: {folder: healthy, numbers: ["400"]}\n',
    )
    heard: dict[str, list[list[str]]] = {}
    healthy_done = trio.Event()

    async def one(number: str) -> None:
        _, leg, _ = await memory_call(hosted.admission, number)
        heard.setdefault(number, []).append(said(leg))
        if len(heard.get("400", [])) == 3:
            healthy_done.set()

    with trio.fail_after(20):
        async with running(tmp_path) as hosted, trio.open_nursery() as nursery:
            for _ in range(45):  # more than trio's 40 shared worker threads
                nursery.start_soon(one, "200")
            await trio.sleep(0.1)
            started = trio.current_time()
            for number in ("100", "300", "400", "400", "400"):
                nursery.start_soon(one, number)
            with trio.fail_after(2):
                await healthy_done.wait()
            healthy_took = trio.current_time() - started
    assert heard["100"] == [["raising failed."]]
    assert heard["200"] == [["hanging timed out."]] * 45
    assert heard["300"] == [["slow timed out."]]
    assert heard["400"] == [["healthy answered yes."]] * 3
    assert healthy_took < 1.5  # not behind the hanging tenant's stuck threads


async def test_a_background_task_that_raises_is_restarted_and_its_tenant_serves_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(modules, "RESTART_PAUSES", (0.05,))
    flaky = OK_MODULE.replace(
        'module = Module("ok", operations={"probe": probe})',
        "RUNS = []\n\nasync def poll(ctx):\n    RUNS.append(1)\n"
        "    (ctx.data_dir / 'runs').write_text(str(len(RUNS)))\n"
        "    raise ConnectionError('feed down')\n\n"
        'module = Module("flaky", operations={"probe": probe}, tasks=[poll])',
    )
    probe_tenant(tmp_path, "flaky", "100", flaky)
    hosting_file(tmp_path, 'flaky: {folder: flaky, numbers: ["100"]}\n')
    async with running(tmp_path) as hosted:
        await trio.sleep(0.5)
        _, leg, _ = await memory_call(hosted.admission, "100")
        runs = int((tmp_path / "var" / "tenants" / "flaky" / "data" / "runs").read_text())
    assert runs >= 3
    assert said(leg) == ["flaky answered yes."]


async def test_a_modules_settings_and_data_directory_are_its_own(tmp_path: Path) -> None:
    writer = OK_MODULE.replace(
        '    return {"value": ctx.setting("word", "yes")}',
        "    (ctx.data_dir / 'seen').write_text(ctx.tenant)\n"
        '    return {"value": ctx.setting("word", "yes")}',
    )
    probe_tenant(tmp_path, "alpha", "100", writer)
    probe_tenant(tmp_path, "beta", "200", writer)
    hosting_file(
        tmp_path,
        'alpha: {folder: alpha, numbers: ["100"], settings: {word: ja}}\n'
        'beta: {folder: beta, numbers: ["200"], settings: {word: oui}}\n',
    )
    async with running(tmp_path) as hosted:
        _, alpha, _ = await memory_call(hosted.admission, "100")
        _, beta, _ = await memory_call(hosted.admission, "200")
        layouts = [hosted.tenant(name).layout for name in ("alpha", "beta")]
    assert said(alpha) == ["alpha answered ja."] and said(beta) == ["beta answered oui."]
    for part in ("module_data", "recordings", "tts", "outbox", "versions"):  # nothing shared
        mine, theirs = (getattr(layout, part) for layout in layouts)
        assert mine != theirs and not str(mine).startswith(str(theirs)) and "alpha" in str(mine), part
    data = tmp_path / "var" / "tenants"
    assert (data / "alpha" / "data" / "seen").read_text() == "alpha"
    assert (data / "beta" / "data" / "seen").read_text() == "beta"


async def test_a_decision_holds_the_version_it_admitted_to(tmp_path: Path) -> None:
    tenant_folder(tmp_path, "alpha", {"100": "main"})
    hosting_file(tmp_path, 'alpha: {folder: alpha, numbers: ["100"]}\n')
    async with running(tmp_path) as hosted:
        decision = hosted.admission.decide("100")
        assert isinstance(decision, Admit) and decision.version.id == "v1" and decision.tenant.name == "alpha"
