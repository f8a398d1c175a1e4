"""Seat quotas (a tenant's overflow never takes another tenant's capacity) and publishing
without a restart (checked, kept, swapped; calls in progress finish on their version;
listed, diffed, rolled back; kept across a restart)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import trio
from tenants_support import HANGUP_FLOW, converse, hosting_file, running, tenant_folder

from ivr.adapters.errors import ConfigError
from ivr.adapters.hosting.admission import Admission, Admit, Refuse
from ivr.adapters.hosting.testing import memory_call, serving_tenant, shared_parts
from ivr.adapters.hosting.versions import snapshot
from ivr.adapters.storage import open_sqlite_call_records
from ivr.flowlang.hostingfile import Seats
from ivr.flowlang.project import load_project
from ivr.runtime.testing import MemoryCallLeg

MENU_FLOW = """\
flow: main
languages: [en]
start: menu
nodes:
  menu:
    type: menu
    prompt: {{en: "{greeting}"}}
    timeout: 60s
    max_retries: 0
    options: {{"1": chosen}}
    on_no_input: bye
    on_no_match: bye
  chosen: {{type: say, prompt: {{en: "{chosen}"}}, next: bye}}
  bye: {{type: hangup, prompt: {{en: Goodbye.}}}}
"""


def menu(greeting: str, chosen: str = "You chose one.") -> str:
    return MENU_FLOW.format(greeting=greeting, chosen=chosen)


# -- seats ----------------------------------------------------------------------------------------


async def test_beyond_its_quota_a_tenant_gets_its_overflow_then_503_and_never_another_tenants_seats(
    tmp_path: Path,
) -> None:
    flows = {
        "main": HANGUP_FLOW.format(name="main", tenant="alpha"),
        "busy": HANGUP_FLOW.format(name="busy", tenant="busy"),
    }
    alpha_flows, _ = load_project([tenant_folder(tmp_path, "alpha", {"100": "main"}, flows=flows)])
    beta_flows, _ = load_project([tenant_folder(tmp_path, "beta", {"200": "main"})])
    async with open_sqlite_call_records(tmp_path / "calls.sqlite3") as store:
        shared = shared_parts(store, tmp_path)
        alpha = serving_tenant(
            "alpha", alpha_flows, shared, seats=Seats(calls=2, overflow=1), overflow_flow="busy"
        )
        beta = serving_tenant("beta", beta_flows, shared)
        admission = Admission([alpha, beta], capacity=4)  # alpha holds 3; beta shares the 1 left
        assert (admission.reserved, admission.pool) == (3, 1)

        beta_call = admission.decide("200")
        assert isinstance(beta_call, Admit) and beta_call.seat == "pool"
        admission.enter(beta_call)
        assert admission.decide("200") == Refuse(503, "capacity", "beta", 10)  # beta's pool is full ...
        taken = []
        for seat, flow in (("quota", "main"), ("quota", "main"), ("overflow", "busy")):
            decision = admission.decide("100")  # ... and alpha still gets all of its seats
            assert isinstance(decision, Admit) and (decision.seat, decision.flow) == (seat, flow)
            admission.enter(decision)
            taken.append(decision)
        assert admission.decide("100") == Refuse(503, "tenant_quota", "alpha", 10)
        assert admission.active == 4 and alpha.calls == 2 and alpha.overflow_calls == 1
        admission.leave(taken[0])
        again = admission.decide("100")
        assert isinstance(again, Admit) and again.seat == "quota"


async def test_overload_unwritable_records_and_shutdown_refuse_every_tenant_with_retry_after(
    tmp_path: Path,
) -> None:
    alpha_flows, _ = load_project([tenant_folder(tmp_path, "alpha", {"100": "main"})])
    async with open_sqlite_call_records(tmp_path / "calls.sqlite3") as store:
        alpha = serving_tenant("alpha", alpha_flows, shared_parts(store, tmp_path))
        overloaded, records_down = False, False
        admission = Admission([alpha], capacity=4, overloaded=lambda: overloaded, retry_after=7)
        admission.refuse_while("records", lambda: records_down)
        assert isinstance(admission.decide("100"), Admit)
        assert admission.decide("999") == Refuse(404, "unknown_number")  # no Retry-After on a 404
        overloaded = True
        assert admission.decide("100") == Refuse(503, "overload", retry_after=7)
        overloaded, records_down = False, True
        assert admission.decide("100") == Refuse(503, "records", retry_after=7)
        records_down = False
        assert isinstance(admission.decide("100"), Admit)
        admission.draining = True
        assert admission.decide("100") == Refuse(503, "shutting_down", retry_after=7)


async def test_quotas_that_add_up_to_more_than_the_capacity_stop_the_start(tmp_path: Path) -> None:
    flows, _ = load_project([tenant_folder(tmp_path, "alpha", {"100": "main"})])
    async with open_sqlite_call_records(tmp_path / "calls.sqlite3") as store:
        alpha = serving_tenant("alpha", flows, shared_parts(store, tmp_path), seats=Seats(calls=10))
        with pytest.raises(ConfigError, match="add up to 10 calls, but the server takes 8"):
            Admission([alpha], capacity=8)


async def test_overflow_callers_hear_the_tenants_busy_flow_on_a_running_server(tmp_path: Path) -> None:
    tenant_folder(
        tmp_path,
        "fund",
        {"400": "main"},
        flows={
            "main": menu("Welcome to the fund."),
            "busy": HANGUP_FLOW.format(name="busy", tenant="a busy line"),
        },
    )
    hosting_file(
        tmp_path,
        'fund: {folder: fund, numbers: ["400"], seats: {calls: 1, overflow: 1}, overflow_flow: busy}\n',
    )
    async with running(tmp_path) as hosted, trio.open_nursery() as nursery:
        holding = MemoryCallLeg(call_id="held", dialed="400")
        nursery.start_soon(memory_call, hosted.admission, "400", holding)
        await holding.wait_for(lambda: bool(holding.prompts))
        _, overflow, _ = await memory_call(hosted.admission, "400")
        holding.hang_up()
    assert overflow is not None
    assert [p.text for p in overflow.prompts] == ["Hello from a busy line.", "Goodbye."]


# -- publishing -----------------------------------------------------------------------------------


def files_of(folder: Path, **changes: str) -> dict[str, bytes]:
    files = snapshot(folder)
    files.update({name: text.encode() for name, text in changes.items()})
    return files


async def test_a_publish_swaps_new_calls_to_the_new_version_while_calls_in_progress_finish_on_theirs(
    tmp_path: Path,
) -> None:
    folder = tenant_folder(tmp_path, "alpha", {"100": "main"}, flows={"main": menu("Welcome, version one.")})
    hosting_file(tmp_path, 'alpha: {folder: alpha, numbers: ["100"]}\n')
    async with running(tmp_path) as hosted, trio.open_nursery() as nursery:
        assert hosted.publisher is not None
        early = MemoryCallLeg(call_id="early", dialed="100")
        nursery.start_soon(memory_call, hosted.admission, "100", early)
        await early.wait_for(lambda: bool(early.prompts))
        v1 = hosted.tenant("alpha").current
        outcome = await hosted.publisher.publish(
            "alpha",
            files_of(folder, **{"main.yaml": menu("Welcome, version two.", "Two it is.")}),
            author="li.na",
            note="new greeting",
        )
        assert outcome.ok and outcome.version is not None and outcome.version.id == "v2"
        late = MemoryCallLeg(call_id="late", dialed="100")
        nursery.start_soon(memory_call, hosted.admission, "100", late)
        await late.wait_for(lambda: bool(late.prompts))
        assert v1 is not None and v1.retired and v1.active == 1  # kept alive by the early call
        early.press("1")
        late.press("1")
        await early.wait_for(lambda: early.ended)
        await late.wait_for(lambda: late.ended)
    assert [p.text for p in early.prompts] == ["Welcome, version one.", "You chose one.", "Goodbye."]
    assert [p.text for p in late.prompts] == ["Welcome, version two.", "Two it is.", "Goodbye."]
    assert v1.active == 0
    rows = sqlite3.connect(tmp_path / "var" / "calls.sqlite3").execute(
        "SELECT call_id, version FROM calls ORDER BY 1"
    )
    assert list(rows) == [("early", "v1"), ("late", "v2")]


async def test_a_version_with_errors_is_refused_with_positioned_diagnostics_and_nothing_is_kept(
    tmp_path: Path,
) -> None:
    folder = tenant_folder(tmp_path, "alpha", {"100": "main"})
    tenant_folder(tmp_path, "beta", {"200": "main"}, service_extra="queues:\n  desk: {skills: [desk]}\n")
    hosting_file(
        tmp_path, 'alpha: {folder: alpha, numbers: ["100"]}\nbeta: {folder: beta, numbers: ["200"]}\n'
    )
    broken = HANGUP_FLOW.format(name="main", tenant="alpha").replace("next: bye", "next: nowhere")
    stealing = (
        "flow: main\nlanguages: [en]\nstart: wait\nnodes:\n"
        "  wait: {type: enqueue, queue: desk, next: bye, on_overflow: bye, on_timeout: bye,\n"
        "         on_no_agents: bye}\n"
        "  bye: {type: hangup, prompt: {en: Bye.}}\n"
    )
    async with running(tmp_path) as hosted:
        publisher = hosted.publisher
        assert publisher is not None
        cases = {
            "FL301": files_of(folder, **{"main.yaml": broken}),
            "FL807": files_of(folder, **{"main.yaml": stealing}),
            "FL806": files_of(
                folder, **{"service.yaml": 'service: alpha\nlanguages: [en]\nnumbers: {"101": main}\n'}
            ),
            "FL813": files_of(
                folder,
                **{
                    "service.yaml": "service: alpha\nmodule: brokerage\nlanguages: [en]\n"
                    'numbers: {"100": main}\n'
                },
            ),
        }
        for code, files in cases.items():
            outcome = await publisher.publish("alpha", files, author="li.na")
            assert not outcome.ok and outcome.version is None, code
            assert code in [d.code for d in outcome.diagnostics], (code, outcome.diagnostics)
            found = next(d for d in outcome.diagnostics if d.code == code)
            assert found.span.file.startswith(("alpha/", str(tmp_path / "hosting.yaml"))), found.span
        placed = next(d for d in (await publisher.publish("alpha", cases["FL301"], author="x")).diagnostics)
        assert (placed.span.file, placed.span.line) == ("alpha/main.yaml", 5)
        bad_names = await publisher.publish(
            "alpha", {"../escape.yaml": b"x", "code.py": b"import os"}, author="x"
        )
        assert not bad_names.ok and "'../escape.yaml': no '..'" in bad_names.message
        assert "'code.py': only .yaml, .yml, .wav, .csv files are published" in bad_names.message
        nobody = await publisher.publish("alpha", files_of(folder), author=" ")
        assert not nobody.ok and "author" in nobody.message
        assert [v.id for v in publisher.versions("alpha")] == ["v1"]
        assert hosted.tenant("alpha").current is not None and hosted.tenant("alpha").current.id == "v1"


async def test_versions_are_listed_diffed_rolled_back_and_kept_across_a_restart(tmp_path: Path) -> None:
    folder = tenant_folder(tmp_path, "alpha", {"100": "main"}, flows={"main": menu("Welcome, version one.")})
    hosting_file(tmp_path, 'alpha: {folder: alpha, numbers: ["100"]}\n')
    async with running(tmp_path) as hosted:
        publisher = hosted.publisher
        assert publisher is not None
        await publisher.publish(
            "alpha", files_of(folder, **{"main.yaml": menu("Welcome, version two.")}), author="li.na"
        )
        diff = publisher.diff("alpha", "v1", "v2")
        assert (
            '-    prompt: {en: "Welcome, version one."}' in diff
            and '+    prompt: {en: "Welcome, version two."}' in diff
        )
        back = await publisher.rollback("alpha", "v1", author="wang.wei")
        assert back.ok and back.version is not None
        assert (back.version.id, back.version.origin, back.version.author) == (
            "v3",
            "rollback of v1",
            "wang.wei",
        )
        leg = await converse(hosted, "100", ["1"])  # a key: the menu waits no minute
        assert leg is not None and leg.prompts[0].text == "Welcome, version one."
        history = [(v.id, v.origin) for v in publisher.versions("alpha")]
    assert history == [("v1", "source"), ("v2", "publish"), ("v3", "rollback of v1")]

    async with running(tmp_path) as hosted:  # a restart: the published version stays current
        assert hosted.tenant("alpha").current is not None and hosted.tenant("alpha").current.id == "v3"
    (folder / "main.yaml").write_text(menu("Welcome, edited in the folder."), encoding="utf-8")
    async with running(tmp_path) as hosted:  # the folder changed since: it is taken in
        assert hosted.publisher is not None
        assert [(v.id, v.origin) for v in hosted.publisher.versions("alpha")][-1] == ("v4", "source")
        leg = await converse(hosted, "100", ["1"])  # a key: the menu waits no minute
        assert leg is not None and leg.prompts[0].text == "Welcome, edited in the folder."


async def test_audio_prompts_play_from_the_version_that_holds_them(tmp_path: Path) -> None:
    flow = (
        "flow: main\nlanguages: [en]\nstart: bye\nnodes:\n"
        "  bye: {type: hangup, prompt: {en: {audio: prompts/bye.wav, text: Goodbye.}}}\n"
    )
    folder = tenant_folder(tmp_path, "alpha", {"100": "main"}, flows={"main": flow})
    (folder / "prompts").mkdir()
    (folder / "prompts" / "bye.wav").write_bytes(b"RIFF-one")
    hosting_file(tmp_path, 'alpha: {folder: alpha, numbers: ["100"]}\n')
    async with running(tmp_path) as hosted:
        assert hosted.publisher is not None
        _, first, _ = await memory_call(hosted.admission, "100")
        files = snapshot(folder) | {"prompts/bye.wav": b"RIFF-two"}
        assert (await hosted.publisher.publish("alpha", files, author="li.na")).ok
        _, second, _ = await memory_call(hosted.admission, "100")
    assert first is not None and second is not None
    played = [Path(str(leg.prompts[0].audio)) for leg in (first, second)]
    assert [p.read_bytes() for p in played] == [b"RIFF-one", b"RIFF-two"]
    assert played[1].parts[-5:] == ("versions", "v2", "files", "prompts", "bye.wav")
